"""The SMTP server of the mail tests (tests/tests/mail_smtp.rs), on aiosmtpd.

Serves, on one host:

- plain SMTP without AUTH on --port;
- SMTP with STARTTLS required and AUTH required on --starttls-port;
- SMTP over implicit TLS with AUTH required on --smtps-port.

Every message accepted is saved unchanged (the bytes the client sent, after two headers that
name the envelope: X-Mail-From and X-Rcpt-To) to the Maildir --maildir. A recipient at the
domain `rejected.test` is refused with a permanent 550, for the tests of permanent errors.

The aiosmtpd command line serves one port, without AUTH, and re-encodes messages on saving;
hence this file. Runs until SIGTERM or SIGINT.
"""

import argparse
import asyncio
import mailbox
import signal
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REJECTED_DOMAIN = "@rejected.test"


class Handler:
    def __init__(self, maildir):
        self.maildir = mailbox.Maildir(maildir, create=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().endswith(REJECTED_DOMAIN):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        headers = "X-Mail-From: {}\r\nX-Rcpt-To: {}\r\n".format(
            envelope.mail_from, ", ".join(envelope.rcpt_tos)
        ).encode()
        self.maildir.add(headers + envelope.original_content)
        return "250 Message accepted for delivery"


def authenticator(user, password):
    user, password = user.encode(), password.encode()

    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user
            and auth_data.password == password
        )
        # Not handled: aiosmtpd answers 235 on success and 535 otherwise.
        return AuthResult(success=ok, handled=False)

    return check


async def serve(args):
    handler = Handler(args.maildir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    check = authenticator(args.user, args.password)
    loop = asyncio.get_running_loop()

    def plain():
        return SMTP(handler, hostname="localhost")

    def starttls():
        return SMTP(
            handler,
            hostname="localhost",
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            authenticator=check,
        )

    def smtps():
        # The connection is TLS from its first byte, which aiosmtpd's check for AUTH over TLS
        # does not see (it only knows STARTTLS): AUTH is allowed on it as it is, and the warning
        # that this would be AUTH in clear is wrong here.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        return SMTP(
            handler,
            hostname="localhost",
            auth_required=True,
            auth_require_tls=False,
            authenticator=check,
        )

    servers = [
        await loop.create_server(plain, args.host, args.port),
        await loop.create_server(starttls, args.host, args.starttls_port),
        await loop.create_server(smtps, args.host, args.smtps_port, ssl=context),
    ]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"serving SMTP on {args.host}:{args.port}, STARTTLS on {args.starttls_port}, "
        f"SMTPS on {args.smtps_port}; saving to {args.maildir}",
        flush=True,
    )
    await stop.wait()
    for server in servers:
        server.close()
        await server.wait_closed()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--starttls-port", type=int, required=True)
    parser.add_argument("--smtps-port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
