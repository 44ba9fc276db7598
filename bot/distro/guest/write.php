<?php
// The write page: one transaction records a visit and bumps a counter,
// then reads the counter back. (Visits are never read by the read page,
// so its cost does not grow with the writes.)
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
$db = new mysqli('localhost', 'tcbot', 'tcbot', 'tcbot');
$db->begin_transaction();
$db->query("UPDATE counters SET value = value + 1 WHERE name = 'writes'");
$n = intval($db->query("SELECT value FROM counters WHERE name = 'writes'")->fetch_row()[0]);
$post = 1 + $n % 500;
$st = $db->prepare('INSERT INTO visits (post_id, note, created) VALUES (?, ?, NOW())');
$body = "Visit number $n";
$st->bind_param('is', $post, $body);
$st->execute();
$db->commit();
header('Content-Type: text/plain');
echo "tcbot-ok write=$n post=$post\n";
