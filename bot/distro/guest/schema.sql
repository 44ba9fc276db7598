-- tcbot's LAMP application: a small blog. Deterministic seed data, so
-- every image holds the same rows and a page costs the same every time.
DROP DATABASE IF EXISTS tcbot;
CREATE DATABASE tcbot;
CREATE USER IF NOT EXISTS 'tcbot'@'localhost' IDENTIFIED BY 'tcbot';
GRANT SELECT, INSERT, UPDATE ON tcbot.* TO 'tcbot'@'localhost';
USE tcbot;
CREATE TABLE authors (
  id INT PRIMARY KEY,
  name VARCHAR(64) NOT NULL
) ENGINE=InnoDB;
CREATE TABLE posts (
  id INT PRIMARY KEY,
  author_id INT NOT NULL,
  title VARCHAR(200) NOT NULL,
  body TEXT NOT NULL,
  created DATETIME NOT NULL,
  KEY (author_id),
  KEY (created)
) ENGINE=InnoDB;
CREATE TABLE comments (
  id INT AUTO_INCREMENT PRIMARY KEY,
  post_id INT NOT NULL,
  body VARCHAR(500) NOT NULL,
  created DATETIME NOT NULL,
  KEY (post_id)
) ENGINE=InnoDB;
-- What the write page adds: never read by the read page, so a read costs
-- the same however many writes came before it.
CREATE TABLE visits (
  id INT AUTO_INCREMENT PRIMARY KEY,
  post_id INT NOT NULL,
  note VARCHAR(200) NOT NULL,
  created DATETIME NOT NULL,
  KEY (post_id)
) ENGINE=InnoDB;
CREATE TABLE counters (
  name VARCHAR(32) PRIMARY KEY,
  value BIGINT NOT NULL
) ENGINE=InnoDB;
SET SESSION max_recursive_iterations = 100000;
INSERT INTO authors (id, name)
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
  SELECT i, CONCAT('author-', i) FROM n;
INSERT INTO posts (id, author_id, title, body, created)
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
  SELECT i, 1 + (i * 7) % 50, CONCAT('Post number ', i),
         REPEAT(CONCAT('Sentence ', i, ' of a post about performance. '), 1 + i % 9),
         TIMESTAMP('2026-01-01') + INTERVAL i HOUR FROM n;
INSERT INTO comments (post_id, body, created)
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
  SELECT 1 + (i * 13) % 500, CONCAT('Comment ', i), TIMESTAMP('2026-02-01') + INTERVAL i MINUTE FROM n;
INSERT INTO counters (name, value) VALUES ('writes', 0);
