"""Security headers on every response (a plain ASGI middleware: no per-request task or body
buffering, so streamed downloads stay streamed).

The Content-Security-Policy allows scripts only from the app's own /static files: no inline
script, no inline event handler, no eval, so markup that slipped into a page cannot run.
Inline *styles* stay allowed because progress bars and face boxes set their width and
position in a style attribute and htmx adds its indicator style; styles cannot run code.
A response that sets its own policy keeps it: the API viewers (/docs, /redoc, served from a
package, no CDN) allow their one bootstrap script by hash (app/routes/docs.py)."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool = False):
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"content-security-policy", CSP.encode()),
                 (b"x-content-type-options", b"nosniff"),
                 (b"x-frame-options", b"DENY"),
                 (b"referrer-policy", b"same-origin"),
                 (b"cross-origin-opener-policy", b"same-origin")]
        if self.https:
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
