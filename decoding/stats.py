"""What guidance cost: steps seen, steps constrained, server queries, their time and the time decoding waited.

One `StepStats` lives as long as the processor (or guide) that fills it, so
its counts add up over every generation it served; callers that want one
generation's share read the counts before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StepStats:
    """What guidance cost during the generations a processor served."""

    steps: int = 0
    constrained_steps: int = 0
    queries: int = 0
    # queries the language server did not answer (an error, a timeout, a dead or unavailable server)
    unanswered_queries: int = 0
    # row steps left unconstrained because the server did not answer at a trigger, or guidance itself failed
    unguided_steps: int = 0
    # member rules (mgd.monitors.dereference): names started without the hidden members (dunders, mro, ...),
    # dots left unconstrained because the receiver had nothing but those, and row steps where a `(` was
    # kept from a name that takes none
    narrowed_starts: int = 0
    freed_starts: int = 0
    call_banned_steps: int = 0
    # requests sent to the language server by the queries above (a query of several monitors may send
    # more than one: the `types` monitor's signature help or jedi resolves, `new`'s sweep), and row steps
    # where the expression-end rule banned what would end an unfit member's expression (mgd.decoding.chain_rules)
    server_requests: int = 0
    chain_steps: int = 0
    # queries started ahead of the step that needs them (`mgd.decoding.prefetch`), the answers a step took
    # from them, and those discarded unused (a wrong guess, a new generation, an error, no answer in time)
    prefetched: int = 0
    prefetch_hits: int = 0
    prefetch_misses: int = 0
    # answers taken from those kept beyond a generation or for a stable receiver (mgd.decoding.kept_answers)
    kept_hits: int = 0
    query_seconds: list[float] = field(default_factory=list)  # every server query's own time, prefetched or not
    # per answer a step had to get from the server: how long decoding waited for it (all of a query it
    # asked itself, what was left of a prefetched one); prefetching is what makes these short
    wait_seconds: list[float] = field(default_factory=list)
    mask_seconds: list[float] = field(default_factory=list)
