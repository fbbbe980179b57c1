-- Whether a user confirmed their address with the mailed link; new sign-ups start unconfirmed.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
