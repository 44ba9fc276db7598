<?php
// tcbot-lamp: the page tcbot's LAMP benchmark requests,
// http://127.0.0.1/tcbot/index.php (served by PHP-FPM through Apache:
// php-fpm-apache2 passes *.php under /usr/share/apache2/htdocs to it).
// It reads the items table (tcbot-lamp.sql) from MariaDB over its socket
// (my.cnf has skip-networking) and prints every row; ?category=books
// narrows it. A database failure is a 500, which the load generator counts
// as an error, as it does a page without the last row, item-0200.

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
header('Content-Type: text/html; charset=utf-8');

try {
    $db = new mysqli('localhost', 'tcbot', 'tcbot', 'tcbot', 0, '/var/lib/mysql/mysql.sock');
    $category = isset($_GET['category']) ? (string)$_GET['category'] : '';
    if ($category === '') {
        $stmt = $db->prepare('SELECT id, name, category, price_cents FROM items ORDER BY id');
    } else {
        $stmt = $db->prepare('SELECT id, name, category, price_cents FROM items WHERE category = ? ORDER BY price_cents DESC, id');
        $stmt->bind_param('s', $category);
    }
    $stmt->execute();
    $rows = $stmt->get_result();
} catch (mysqli_sql_exception $e) {
    http_response_code(500);
    echo 'database error: ', htmlspecialchars($e->getMessage()), "\n";
    exit;
}

echo "<!DOCTYPE html>\n<html><head><title>tcbot items</title></head><body>\n";
echo "<table>\n<tr><th>id</th><th>name</th><th>category</th><th>price</th></tr>\n";
$n = 0;
$total = 0;
while ($row = $rows->fetch_assoc()) {
    $n++;
    $total += (int)$row['price_cents'];
    printf("<tr><td>%d</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
        $row['id'], htmlspecialchars($row['name']), htmlspecialchars($row['category']),
        number_format($row['price_cents'] / 100, 2));
}
printf("</table>\n<p>%d items, %s in total</p>\n</body></html>\n", $n, number_format($total / 100, 2));
