"""Login rate limits, per account and per client address, with the `limits` library's
moving-window strategy (no hand-rolled counters). Only failed logins count, and a request is
checked before its password is verified, so a guesser can neither keep trying nor keep the
server busy hashing. Counters live in this process's memory: a restart forgets them, and two
servers each keep their own (README: Security)."""

import math
import time

from limits import RateLimitItem, parse, storage, strategies


class LoginThrottle:
    def __init__(self, *, per_account: str, per_address: str):
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._rules: tuple[tuple[str, RateLimitItem], ...] = (
            ("account", parse(per_account)), ("address", parse(per_address)))

    def _keys(self, account: str, address: str) -> dict[str, str]:
        return {"account": account.strip().lower(), "address": address}

    def retry_after(self, *, account: str, address: str) -> int | None:
        """Seconds until another try is allowed when either limit is spent, else None."""
        keys = self._keys(account, address)
        waits = []
        for scope, rule in self._rules:
            if not self._limiter.test(rule, "login", scope, keys[scope]):
                reset_at, _left = self._limiter.get_window_stats(rule, "login", scope,
                                                                 keys[scope])
                waits.append(max(1, math.ceil(reset_at - time.time())))
        return max(waits) if waits else None

    def failed(self, *, account: str, address: str) -> None:
        keys = self._keys(account, address)
        for scope, rule in self._rules:
            self._limiter.hit(rule, "login", scope, keys[scope])
