"""Which mapping each stream goes through, compiled once per stream of a run."""

from __future__ import annotations

from target_attentive.kinds import KindMapping
from target_attentive.mapping import Mapping
from target_attentive.settings import Settings, compile_route


class Routes:
    """The compiled mapping of each stream met so far: a stream's mapping is looked up on
    every record, and compiling it is done once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._mappings: dict[str, Mapping | KindMapping | None] = {}

    def route(self, stream: str) -> Mapping | KindMapping | None:
        """The compiled mapping of a stream, of its kind; None when it is to be ignored."""
        if stream not in self._mappings:
            per_stream = self.settings.stream_mappings or {}
            if stream in per_stream:
                self._mappings[stream] = compile_route(per_stream[stream])
            elif self.settings.ignore_unmapped_streams:
                self._mappings[stream] = None
            else:
                self._mappings[stream] = compile_route(self.settings.mapping)
        return self._mappings[stream]

    def mapping_for(self, stream: str) -> Mapping | None:
        """The user upsert mapping of a stream; None when it is ignored or of another kind."""
        mapping = self.route(stream)
        return mapping if isinstance(mapping, Mapping) else None

    def is_kind_stream(self, stream: str) -> bool:
        """Whether a stream goes to a v1 endpoint (events, opt-outs) rather than users."""
        mapping = self.route(stream)
        return mapping is not None and not isinstance(mapping, Mapping)
