-- Users' email addresses, where password-reset links go: one account per address, compared
-- without case (`Ferris@Example.com` finds `ferris@example.com`).
ALTER TABLE users ADD COLUMN email TEXT COLLATE NOCASE;
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (email);
