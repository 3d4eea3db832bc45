"""Fault injection by rule, so a client's retry, rate-limit and watchdog code can be proven.

Rules are posted to /_sandbox/faults (see app.py) and kept in order:
  random     {"rate": 0.2, "kinds": [...], "seed": 7, "paths"?: [...], "stall_seconds"?: 30}
  scripted   {"path": "/v1/charges", "status": 403, "body"?: ..., "headers"?: {...}, "times"?: N}
  by kind    {"path": "/v1/charges", "kind": "pagination-loop" | any random kind, "times"?: N}
Every rule also takes "retry_after"?: seconds, sent in the answers that carry Retry-After.
Settings: {"credentials": "revoked"|"ok"}, {"latency_ms": 50},
{"rate_limit": {"requests_per_second": 25, "burst"?: 25} | null}.

What each API answers is data on its surface (`Surface.faults`, e.g. stripe_faults.py); this
module only decides which fault a request gets. A random rule without `paths` covers every API:
on each request it picks among the kinds that API answers (all APIs answer "429", "500", "503"
and the transport kinds), so `rate` holds on every path.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .surface import FaultAnswers, Response, Surface, Transport, fill

# Kinds answered over HTTP ("429", "429-no-retry-after", "500", "503" for Stripe) are whatever
# the surfaces' tables hold, so an API adds its own kinds as data. These are acted out below HTTP:
TRANSPORT_KINDS = ("reset", "stall", "truncated")
LOOP = "pagination-loop"  # path rules only
SETTINGS = ("credentials", "latency_ms", "rate_limit")
DEFAULT_STALL = 30.0
DEFAULT_RETRY_AFTER = 1  # seconds, in answers that carry Retry-After
REVOKED, RATE_LIMITED = "revoked-credentials", "rate-limited"  # labels in counts and the log


def _number(args: Mapping[str, Any], name: str, low: float, high: float | None = None,
            default: float | None = None, integer: bool = False) -> float:
    value = args.get(name, default)
    kinds = (int,) if integer else (int, float)
    if value is None or isinstance(value, bool) or not isinstance(value, kinds):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be between {low} and {high}" if high is not None
                         else f"{name} must be at least {low}")
    return value


def _retry_after(args: Mapping[str, Any]) -> int | None:
    if "retry_after" not in args:
        return None
    return int(_number(args, "retry_after", 0, 86_400, integer=True))


def _same_path(path: str, other: str, suffix: str) -> bool:
    return path == other or bool(suffix) and path.removesuffix(suffix) == other.removesuffix(suffix)


def _only(args: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = set(args) - set(allowed)
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")


@dataclass
class RandomRule:
    """Faults each matching request with probability `rate`, from a seeded RNG used in order."""

    id: int
    rate: float
    kinds: list[str]
    seed: int
    paths: list[str] | None
    stall_seconds: float
    rng: random.Random = field(init=False, repr=False)
    injected: int = 0
    retry_after: int | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def matches(self, path: str, suffix: str) -> bool:
        return self.paths is None or any(_same_path(path, p, suffix) for p in self.paths)

    def draw(self, reasons: Sequence[str], answered: Container[str]) -> tuple[str, str] | None:
        # Three draws on every matching request, hit or miss, so the schedule depends only on
        # the seed and the request's place in the sequence. The kind is picked among those
        # this API answers (all of them, for an API that answers every kind of the rule).
        roll, pick, reason = self.rng.random(), self.rng.random(), self.rng.random()
        kinds = [k for k in self.kinds if k in answered]
        if roll >= self.rate or not kinds:
            return None
        return kinds[int(pick * len(kinds))], reasons[int(reason * len(reasons))]

    def describe(self) -> dict[str, Any]:
        out = {"id": self.id, "rate": self.rate, "kinds": self.kinds, "seed": self.seed,
               "paths": self.paths, "stall_seconds": self.stall_seconds,
               "injected": self.injected}
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out


@dataclass
class PathRule:
    """A fault on one exact path (query ignored): a status answer or a kind, `times` times."""

    id: int
    path: str
    status: int | None = None
    kind: str | None = None
    body: Any = None
    has_body: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None  # None: forever
    stall_seconds: float = DEFAULT_STALL
    injected: int = 0
    retry_after: int | None = None

    def ready(self, path: str, suffix: str) -> bool:
        return _same_path(path, self.path, suffix) and (self.times is None
                                                        or self.injected < self.times)

    def label(self) -> str:
        return self.kind or f"status-{self.status}"

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "path": self.path}
        out.update({"status": self.status} if self.kind is None else {"kind": self.kind})
        if self.has_body:
            out["body"] = self.body
        if self.headers:
            out["headers"] = self.headers
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        remaining = None if self.times is None else self.times - self.injected
        out.update(times=self.times, remaining=remaining, injected=self.injected)
        return out


class TokenBucket:
    """Per-key buckets holding up to `burst` tokens, refilled at `rate` tokens a second."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: str, now: float) -> float | None:
        """None if the request may pass, else the seconds until it would."""
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        return None if allowed else (1 - tokens) / self.rate


class Faults:
    """The rules and settings in force, and what they injected since the last clear()."""

    def __init__(self, surfaces: Sequence[Surface]) -> None:
        self._surfaces = list(surfaces)
        answered = dict.fromkeys(k for s in self._surfaces for k in s.faults.kinds)
        self._kinds = [*answered, *TRANSPORT_KINDS]
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._rules: list[RandomRule | PathRule] = []
            self._next_id = 1
            self._revoked = False
            self._latency_ms: float = 0
            self._bucket: TokenBucket | None = None
            self._injected: Counter[str] = Counter()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            bucket = self._bucket
            return {
                "rules": [rule.describe() for rule in self._rules],
                "injected": dict(self._injected),
                "rate_limited": self._injected[RATE_LIMITED],
                "credentials": "revoked" if self._revoked else "ok",
                "latency_ms": self._latency_ms,
                "rate_limit": None if bucket is None else
                {"requests_per_second": bucket.rate, "burst": bucket.burst},
            }

    # -- configuration --------------------------------------------------------------------------
    def configure(self, args: Any) -> None:
        """Add one rule, or change settings. Raises ValueError (before changing anything)."""
        if not isinstance(args, dict):
            raise ValueError("body must be a JSON object")
        if any(name in args for name in SETTINGS):
            _only(args, SETTINGS)
            self._settings(args)
            return
        if "rate" in args:
            rule: RandomRule | PathRule = self._random_rule(args)
        elif "path" in args:
            rule = self._path_rule(args)
        else:
            raise ValueError("a rule needs `rate` (random faults) or `path` (scripted faults); "
                             f"settings are {', '.join(SETTINGS)}")
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)

    def _settings(self, args: Mapping[str, Any]) -> None:
        revoked = latency = bucket = None
        if "credentials" in args:
            if args["credentials"] not in ("revoked", "ok"):
                raise ValueError('credentials must be "revoked" or "ok"')
            revoked = args["credentials"] == "revoked"
        if "latency_ms" in args:
            latency = _number(args, "latency_ms", 0, 600_000)
        if args.get("rate_limit") is not None:
            limit = args["rate_limit"]
            if not isinstance(limit, dict):
                raise ValueError("rate_limit must be an object or null")
            _only(limit, ("requests_per_second", "burst"))
            rps = _number(limit, "requests_per_second", 0.001)
            # A burst of one second's worth, like a limiter counting requests per second.
            bucket = TokenBucket(rps, _number(limit, "burst", 1, default=max(1.0, rps)))
        with self._lock:
            if revoked is not None:
                self._revoked = revoked
            if latency is not None:
                self._latency_ms = latency
            if "rate_limit" in args:
                self._bucket = bucket

    def _surfaces_for(self, path: str | None) -> list[Surface]:
        if path is None:
            return self._surfaces
        found = [s for s in self._surfaces if path.startswith(s.prefix)]
        if not found:
            raise ValueError(f"no emulated API serves {path}")
        return found

    def _check_kinds(self, kinds: Sequence[str], paths: Sequence[str]) -> None:
        for path in paths:
            for surface in self._surfaces_for(path):
                missing = [k for k in kinds if k not in (*TRANSPORT_KINDS, LOOP)
                           and k not in surface.faults.kinds]
                if missing:
                    raise ValueError(f"{surface.source} has no answer for kinds {missing}")

    def _random_rule(self, args: Mapping[str, Any]) -> RandomRule:
        _only(args, ("rate", "kinds", "seed", "paths", "stall_seconds", "retry_after"))
        kinds = args.get("kinds")
        if not isinstance(kinds, list) or not kinds or any(k not in self._kinds for k in kinds):
            raise ValueError(f"kinds must be a non-empty list of {', '.join(self._kinds)}")
        paths = args.get("paths")
        if paths is not None and (not isinstance(paths, list)
                                  or not all(isinstance(p, str) for p in paths)):
            raise ValueError("paths must be a list of paths")
        self._check_kinds(kinds, paths or [])
        return RandomRule(
            id=0, rate=_number(args, "rate", 0, 1), kinds=list(kinds),
            seed=int(_number(args, "seed", -(2**63), 2**63, default=0, integer=True)),
            paths=None if paths is None else list(paths),
            stall_seconds=_number(args, "stall_seconds", 0, default=DEFAULT_STALL),
            retry_after=_retry_after(args))

    def _path_rule(self, args: Mapping[str, Any]) -> PathRule:
        _only(args, ("path", "status", "kind", "body", "headers", "times", "stall_seconds",
                     "retry_after"))
        path = args["path"]
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("path must be a path such as /v1/charges")
        times = args.get("times")
        if times is not None:
            times = int(_number(args, "times", 1, integer=True))
        stall = _number(args, "stall_seconds", 0, default=DEFAULT_STALL)
        retry_after = _retry_after(args)
        if ("status" in args) == ("kind" in args):
            raise ValueError("a path rule needs exactly one of `status` and `kind`")
        if "kind" in args:
            _only(args, ("path", "kind", "times", "stall_seconds", "retry_after"))
            if args["kind"] not in (*self._kinds, LOOP):
                raise ValueError(f"kind must be one of {', '.join([*self._kinds, LOOP])}")
            self._check_kinds([args["kind"]], [path])
            if args["kind"] == LOOP and not all(s.faults.cursor_params
                                                for s in self._surfaces_for(path)):
                raise ValueError(f"{path}: this API has no paginated lists to loop yet")
            return PathRule(0, path, kind=args["kind"], times=times, stall_seconds=stall,
                            retry_after=retry_after)
        status = int(_number(args, "status", 100, 599, integer=True))
        headers = args.get("headers", {})
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ValueError("headers must be an object of strings")
        if "body" not in args:
            for surface in self._surfaces_for(path):
                if status not in surface.faults.statuses:
                    raise ValueError(f"{surface.source} has no standard body for status "
                                     f"{status}; give one in `body`")
        return PathRule(0, path, status=status, body=args.get("body"), has_body="body" in args,
                        headers=dict(headers), times=times, retry_after=retry_after)

    # -- serving --------------------------------------------------------------------------------
    def apply(self, surface: Surface, method: str, path: str, query: str,
              headers: Mapping[str, str], body: bytes = b"") -> tuple[Response, str | None]:
        """Answer one API request, faulted or not; also returns the fault's label (or None)."""
        table = surface.answers(path, headers)
        values = dict(surface.fault_vars(path, headers), retry_after=str(DEFAULT_RETRY_AFTER))
        answered = {*table.kinds, *TRANSPORT_KINDS}
        with self._lock:
            hits = {rule.id: rule.draw(table.rate_limit_reasons, answered) for rule in self._rules
                    if isinstance(rule, RandomRule) and rule.matches(path, table.path_suffix)}
            revoked = self._revoked and bool(values["key"])
            wait = None
            if not revoked and self._bucket is not None:
                wait = self._bucket.take(values["key"], time.monotonic())
            if revoked:
                label, resp = REVOKED, table.revoked.render(values, table.headers)
            elif wait is not None:
                values["retry_after"] = str(max(1, math.ceil(wait)))
                label, resp = RATE_LIMITED, table.rate_limited.render(values, table.headers)
            else:
                label, resp = self._pick(hits, path, values, table)
            if label is not None:
                self._injected[label] += 1
            delay = self._latency_ms / 1000
        if resp is None:  # no answer of its own: the API answers, maybe bent by the fault
            if label == LOOP:
                kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                        if k not in table.cursor_params]
                query = urlencode(kept)
            resp = surface.handle(method, path, query, headers, body)
            if label == LOOP and resp.status == 200 and isinstance(resp.body, dict):
                resp.body.update(table.loop_body)
            elif label == "truncated":
                resp.transport = Transport("truncated")
        resp.delay = delay
        return resp, label

    def _pick(self, hits: dict[int, tuple[str, str] | None], path: str, values: dict[str, str],
              table: FaultAnswers) -> tuple[str | None, Response | None]:
        for rule in self._rules:  # the first rule that fires wins, in the order they were added
            if isinstance(rule, RandomRule):
                hit = hits.get(rule.id)
                if hit is None:
                    continue
                kind, reason = hit
                stall = rule.stall_seconds
                values = dict(values, reason=reason)
            elif rule.ready(path, table.path_suffix):
                kind, stall = rule.kind or "", rule.stall_seconds
            else:
                continue
            if rule.retry_after is not None:
                values = dict(values, retry_after=str(rule.retry_after))
            rule.injected += 1
            if isinstance(rule, PathRule) and rule.kind is None:
                return rule.label(), self._scripted(rule, values, table)
            if kind in table.kinds:
                return kind, table.kinds[kind].render(values, table.headers)
            if kind in ("reset", "stall"):
                return kind, Response(0, b"", transport=Transport(kind, stall))
            return kind, None  # truncated, pagination-loop: the API answers first
        return None, None

    @staticmethod
    def _scripted(rule: PathRule, values: dict[str, str], table: FaultAnswers) -> Response:
        status = rule.status or 0
        if rule.has_body:  # sent exactly as given, with the API's usual headers
            resp = Response(status, rule.body, fill(dict(table.headers), values))
        else:
            resp = table.statuses[status].render(values, table.headers)
        resp.headers.update(rule.headers)
        return resp
