"""Monitor-guided decoding under outlines (1.x): the outlines constraint and the monitor mask at once.

How outlines applies processors to a transformers model (outlines 1.x source):
`model(prompt, output_type)` builds a `SteerableGenerator` (`outlines/generator.py`),
which compiles the output type into ONE `OutlinesLogitsProcessor`
(`outlines/backends/__init__.py`: outlines_core for regex and JSON schema,
llguidance for CFG), calls its `reset()`, and hands it to
`Transformers.generate` (`outlines/models/transformers.py`), which wraps it in
a `LogitsProcessorList` and passes it as `logits_processor=` to the model's
`generate()`. A user's own `logits_processor=` would collide with that keyword
(TypeError), and `outlines.Generator` accepts an output type OR a processor,
never both. So the two are composed here: `MonitoredLogitsProcessor` is an
`OutlinesLogitsProcessor` holding outlines' compiled constraint and an
`MGDLogitsProcessor`, and is given to `outlines.Generator(model, processor=...)`.

Per step it applies the constraint first, then the monitor mask, to the
constrained scores: the result is the intersection of both masks, and
`merge_margin` compares tokens against the best token the format still allows.
Should the intersection be empty for a row (the format demands what no member
allows), the member rules yield first (a `(` they kept from a name that is
not callable comes back, so `[a-z_]*\\(` may still close on the member
written); if it is empty still, that row keeps the constraint alone: the
format is hard, and guidance, as everywhere in mgd, never stops generation.

`guided_generator` wraps it all for completing code: call it with a
`Document`; it registers the prompt with the monitor and feeds the model the
raw code prefix. outlines applies the tokenizer's chat template to every
string prompt when there is one (`TransformersTypeAdapter.format_str_input`),
with no option to turn it off; a completion prompt must not be wrapped in a
chat turn, so the generator switches that off for the duration of its call.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from outlines import Generator
from outlines.processors.base_logits_processor import OutlinesLogitsProcessor

from mgd.monitors.base import Document
from mgd.decoding.processor import MGDLogitsProcessor

log = logging.getLogger("mgd")

__all__ = ["GuidedGenerator", "MonitoredLogitsProcessor", "guided_generator"]


class MonitoredLogitsProcessor(OutlinesLogitsProcessor):
    """An outlines processor that applies an outlines constraint (optional) and the mgd monitor mask together."""

    def __init__(
        self,
        mgd: MGDLogitsProcessor,
        constraint: OutlinesLogitsProcessor | None = None,
        tensor_library_name: str = "torch",
    ) -> None:
        super().__init__(tensor_library_name)
        self.mgd = mgd
        self.constraint = constraint
        self._warned_empty = False

    def reset(self) -> None:
        """Start a new generation (outlines calls this before each one)."""
        if self.constraint is not None:
            self.constraint.reset()
        # outlines reuses this processor across calls: start the monitors afresh too.
        self.mgd.reset()
        self._warned_empty = False

    def process_logits(self, input_ids: Any, logits: Any) -> Any:
        """Mask `logits` (rows, vocab) to tokens both the constraint and the monitors allow."""
        # The base class has made both 2-D; outlines_core may edit logits in place.
        if self.constraint is not None:
            logits = self.constraint.process_logits(input_ids, logits)
        is_numpy = isinstance(logits, np.ndarray)
        scores = torch.from_numpy(logits) if is_numpy else logits
        # mgd keys each row's state by the bytes of its ids: one dtype, always.
        ids = torch.as_tensor(np.asarray(input_ids) if not torch.is_tensor(input_ids) else input_ids)
        guided = self.mgd(ids.to(device="cpu", dtype=torch.long), scores)
        if guided is not scores and self.constraint is not None:
            emptied = torch.isneginf(guided).all(dim=1) & ~torch.isneginf(scores).all(dim=1)
            if bool(emptied.any()):
                # a format that demands a call after a name the member rules keep from `(`
                # (`entries(` under `[a-z_]*\(`): give back what only those rules took away
                released = self.mgd.released
                for row in torch.nonzero(emptied).flatten().tolist():
                    back = released[row] if row < len(released) else []
                    if back:
                        guided[row, back] = scores[row, back]
                emptied = torch.isneginf(guided).all(dim=1) & ~torch.isneginf(scores).all(dim=1)
            if bool(emptied.any()):
                if not self._warned_empty:
                    self._warned_empty = True
                    log.warning("mgd: the output type allows no member here; the row keeps the format only")
                guided[emptied] = scores[emptied]
        return guided.numpy() if is_numpy else guided


class GuidedGenerator:
    """Completes documents through outlines with an output type and monitor guidance both enforced."""

    def __init__(
        self, model: Any, output_type: Any | None, mgd: MGDLogitsProcessor, *, backend: str | None = None
    ) -> None:
        self.model = model
        self.mgd = mgd
        # outlines' own compilation of the output type, exactly as model(prompt, output_type) would do it.
        constraint = Generator(model, output_type, backend).logits_processor if output_type is not None else None
        self.processor = MonitoredLogitsProcessor(mgd, constraint, model.tensor_library_name)
        self._generator = Generator(model, processor=self.processor)

    def __call__(self, document: Document, **inference_kwargs: Any) -> str:
        """Generate the text that follows `document.prefix` (kwargs go to the model's `generate()`)."""
        with self._raw_prompts():
            self._register([document])
            return self._generator(document.prefix, **inference_kwargs)

    def batch(self, documents: Sequence[Document], **inference_kwargs: Any) -> list[Any]:
        """Generate for several documents at once (their prompts are told apart by their token ids)."""
        with self._raw_prompts():
            self._register(documents)
            return self._generator.batch([d.prefix for d in documents], **inference_kwargs)

    def _register(self, documents: Sequence[Document]) -> None:
        # Only this call's prompts: a stale prompt with the same ids would win the match.
        self.mgd.clear_prompts()
        for document in documents:
            # The ids outlines will feed (same formatting and tokenizer call), so rows match prompts.
            text = self.model.type_adapter.format_input(document.prefix)
            self.mgd.add_prompt(self.model.tokenizer.encode(text)[0], document)

    @contextlib.contextmanager
    def _raw_prompts(self) -> Iterator[None]:
        adapter = self.model.type_adapter
        saved = getattr(adapter, "has_chat_template", False)
        adapter.has_chat_template = False
        try:
            yield
        finally:
            adapter.has_chat_template = saved


def guided_generator(
    model: Any, output_type: Any | None, mgd_processor: MGDLogitsProcessor, *, backend: str | None = None
) -> GuidedGenerator:
    """A generator for `outlines.from_transformers(...)` models enforcing `output_type` and the monitors at once."""
    return GuidedGenerator(model, output_type, mgd_processor, backend=backend)
