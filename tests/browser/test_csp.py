"""Every page works under the Content-Security-Policy in a real browser: no inline script,
handler or eval that the policy refuses, on load and while the page's scripts and htmx run."""

import pytest
from sqlalchemy import select

from app.models import Sequence

pytestmark = pytest.mark.browser

# Collects what the browser refused, from the first script on (init scripts run outside the
# page's policy).
WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' +
                    (e.sourceFile || '') + ':' + (e.lineNumber || ''));
});"""


def _violations(page, console: list[str]) -> list[str]:
    return page.evaluate("window.__csp || []") + [m for m in console if "Content Security" in m]


def test_every_page_passes_the_content_security_policy(open_page, site):
    with site.session_factory() as session:
        sequence_id = session.scalar(select(Sequence.id).order_by(Sequence.id))
    page = open_page("boss")
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.context.add_init_script(WATCH)
    visited = {}
    for path in ("/", "/sequences", f"/sequences/{sequence_id}",
                 f"/sequences/{sequence_id}?decide=1", "/admin", "/exports", "/runs",
                 "/predict"):
        response = page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        visited[path] = _violations(page, console)
    assert all(not found for found in visited.values()), visited

    # The scripts really ran: the review page's keys and the list's htmx filter work.
    page.goto(f"/sequences/{sequence_id}")
    page.wait_for_load_state("networkidle")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("f")
    page.wait_for_timeout(300)
    page.goto("/sequences")
    if page.locator("select[name=sort]").count():
        page.select_option("select[name=sort]", index=1)
    page.wait_for_load_state("networkidle")
    assert _violations(page, console) == []
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx loaded and ran

    # The watch itself works: an injected inline script is refused, and reported.
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.injected = 1'; document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.injected") is None
    assert any("script-src" in v for v in _violations(page, console))


def test_the_login_page_passes_too(browser, site):
    context = browser.new_context(base_url=site.base_url)
    try:
        context.add_init_script(WATCH)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda msg: console.append(msg.text))
        page.goto("/login")
        page.wait_for_load_state("networkidle")
        assert _violations(page, console) == []
    finally:
        context.close()
