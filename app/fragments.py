"""Rendered fragments kept by their content. A fragment template that reads only one
hashable value (a NamedTuple of what it prints) is rendered once per distinct value: the
value is the cache key, so a kept fragment is always what a fresh render would give, and
nothing needs invalidating when the data changes (a changed row is a new key).

The sequence list uses it for its cards: a list page shows the same 48 cards view after view
while a reviewer works through them, and rendering the cards was three quarters of the page's
template time."""

from collections.abc import Callable, Hashable
from functools import lru_cache

from jinja2 import Environment
from markupsafe import Markup

# Cards are ~1.2 KB each: 4,096 of them (CK+'s 593 sequences under several filters and
# queues) hold ~5 MB.
FRAGMENT_CACHE_SIZE = 4096


def cached_fragment(env: Environment, template_name: str, *, name: str,
                    maxsize: int = FRAGMENT_CACHE_SIZE) -> Callable[[Hashable], Markup]:
    """A function for templates: `value -> rendered template_name`, with the template seeing
    only `{name: value}` (and the environment's globals, which are fixed at start-up)."""
    escapes = env.autoescape(template_name) if callable(env.autoescape) else env.autoescape
    if not escapes:  # the result is marked safe: only an escaping template may make it
        raise ValueError(f"{template_name} is not autoescaped; cached_fragment needs it")
    template = env.get_template(template_name)

    @lru_cache(maxsize=maxsize)
    def render(value: Hashable) -> Markup:
        return Markup(template.render({name: value}))

    return render
