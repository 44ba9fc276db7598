<?php
// The read page: the 20 newest posts with their authors and comment
// counts, and one post with its comments (a join, a grouped count, an
// ordered limit, a lookup by key).
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
$db = new mysqli('localhost', 'tcbot', 'tcbot', 'tcbot');
$rows = $db->query(
    'SELECT p.id, p.title, a.name, COUNT(c.id) AS comments
       FROM posts p JOIN authors a ON a.id = p.author_id
       LEFT JOIN comments c ON c.post_id = p.id
      GROUP BY p.id, p.title, a.name
      ORDER BY p.created DESC LIMIT 20')->fetch_all(MYSQLI_ASSOC);
$id = 1 + intval($_GET['post'] ?? 42) % 500;
$st = $db->prepare('SELECT body FROM comments WHERE post_id = ? ORDER BY id');
$st->bind_param('i', $id);
$st->execute();
$comments = $st->get_result()->fetch_all(MYSQLI_NUM);
header('Content-Type: text/html; charset=utf-8');
echo "<!doctype html><title>tcbot blog</title><h1>Newest posts</h1><ul>\n";
foreach ($rows as $r) {
    printf("<li>%s by %s (%d comments)</li>\n", htmlspecialchars($r['title']),
           htmlspecialchars($r['name']), $r['comments']);
}
echo "</ul><h2>Post $id</h2><ul>\n";
foreach ($comments as $c) {
    echo '<li>', htmlspecialchars($c[0]), "</li>\n";
}
printf("</ul><p>tcbot-ok rows=%d comments=%d</p>\n", count($rows), count($comments));
