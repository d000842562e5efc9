"""The requests of one connection waiting for answers, and the rules that
match an answer to its request: by ``request_id`` when the server echoes
ids, in send order when it does not (the original server echoes ids only on
some error answers, and answers one request at a time). Whatever does not
match is a ProtocolError. Shared by the blocking and the asyncio client; the
caller holds the lock."""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any, Callable, Deque, Dict, Optional

from ._errors import ProtocolError, RemoteError
from ._frames import RequestId, error_code

MAX_LATE_IDS = 65_536


class Pending:
    """One request from its frame to its answer; settles exactly once."""

    __slots__ = ("id", "settle", "on_chunk", "settled", "internal")

    def __init__(
        self,
        request_id: RequestId,
        settle: Callable[[Any, Optional[BaseException]], None],
        on_chunk: Optional[Callable[[Any], None]] = None,
        internal: bool = False,
    ) -> None:
        self.id = request_id
        self.settle = settle
        self.on_chunk = on_chunk
        self.settled = False
        self.internal = internal

    def answer(self, answer: Dict[str, Any]) -> None:
        if answer.get("status") == "ok":
            self.finish(answer.get("result"), None)
        else:
            error = RemoteError(error_code(answer), str(answer.get("message", "")), answer.get("data"))
            self.finish(None, error)

    def finish(self, result: Any, error: Optional[BaseException]) -> None:
        if self.settled:
            return
        self.settled = True
        self.settle(result, error)


class AnswerBook:
    def __init__(self) -> None:
        self._by_id: Dict[RequestId, Pending] = {}
        self._in_order: Deque[Pending] = deque()
        self._late: "OrderedDict[RequestId, None]" = OrderedDict()
        # Set once an ok answer carries its id: the server echoes ids, and the
        # send order (kept for one that does not) is no longer needed.
        self._echoes_ids = False

    def sent(self, entry: Pending) -> None:
        self._by_id[entry.id] = entry
        if not self._echoes_ids:
            self._in_order.append(entry)

    def given_up(self, entry: Pending) -> None:
        """Its answer, if it comes, is dropped rather than refused."""
        if self._by_id.pop(entry.id, None) is not None:
            self._late[entry.id] = None
            if len(self._late) > MAX_LATE_IDS:
                self._late.popitem(last=False)

    def match(self, answer: Any) -> Optional[Pending]:
        """The request an answer settles; None for a late answer to one given up.

        Raises ProtocolError for a frame that is not an answer or answers nothing waiting.
        """
        if not isinstance(answer, dict) or answer.get("status") not in ("ok", "error"):
            raise ProtocolError(f"the peer sent a frame that is not an answer: {str(answer)[:80]}")
        request_id = answer.get("request_id")
        if request_id is not None:
            if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
                raise ProtocolError(f"the peer answered with request_id {request_id!r}")
            entry = self._by_id.pop(request_id, None)
            if entry is not None:
                if not self._echoes_ids and answer.get("status") == "ok":
                    self._echoes_ids = True
                    self._in_order.clear()
                return entry
            if self._late.pop(request_id, "absent") is None:
                return None
            raise ProtocolError(
                f"the peer answered request_id {request_id!r}, which no request is waiting for "
                "(never sent, or answered already)"
            )
        # No id: the oldest request still waiting, as an original server answers in order.
        while self._in_order:
            entry = self._in_order.popleft()
            if self._by_id.pop(entry.id, None) is not None:
                return entry
        raise ProtocolError("the peer sent an answer while no request was waiting for one")

    def chunk_target(self, request_id: Any) -> Optional[Pending]:
        entry = self._by_id.get(request_id)
        if entry is not None:
            return entry
        if request_id in self._late:
            return None
        raise ProtocolError(f"the peer sent a chunk for request_id {request_id!r}, never sent")

    def empty(self) -> bool:
        return not self._by_id

    def waiting(self) -> int:
        return sum(1 for entry in self._by_id.values() if not entry.internal)

    def drain(self) -> list:
        entries = list(self._by_id.values())
        self._by_id.clear()
        self._in_order.clear()
        return entries

    def trim(self) -> None:
        """Drops answered entries from the head of the send order."""
        while self._in_order and self._in_order[0].id not in self._by_id:
            self._in_order.popleft()
