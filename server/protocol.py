"""The LSP face of `mgd serve`, on pygls: document sync, completions, settings, errors.

Handlers run on pygls' event loop and never generate there: they check the
request, snapshot the buffer and hand a job to the completer's worker thread,
so document sync goes on while the model writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import time
from typing import Any, Optional, Union

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcRequestCancelled,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.server import LanguageServer

from mgd import __version__
from mgd.monitors.base import Document
from mgd.server.completer import INLINE, ITEMS, Cancelled, Completer, Job
from mgd.server.documents import DocumentError, DocumentStore, OpenDocument, WorkspaceFolders
from mgd.server.sessions import SessionPool
from mgd.server.settings import Settings, update_settings

log = logging.getLogger("mgd.server")

STATUS = "mgd/status"  # custom request: model, analysis servers, documents (for tests and troubleshooting)
_FRAME_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*$")
_MAX_HEADER = 64 * 1024
_WORD_END = re.compile(r"\w*\Z")
_MAX_WORD = 80


@attrs.define
class InlineCompletionParams:
    """textDocument/inlineCompletion parameters, taking `context` as it comes.

    lsprotocol 2023.0.1 numbers the trigger kinds as the LSP 3.18 draft did
    (Invoked = 0, Automatic = 1); the final 3.18 specification says 1 and 2,
    and editors send either. The context is not used, so it is not checked.
    """

    text_document: types.TextDocumentIdentifier = attrs.field()
    position: types.Position = attrs.field()
    context: Optional[Any] = attrs.field(default=None)  # noqa: UP045 - cattrs structures typing.Optional
    work_done_token: Optional[Union[int, str]] = attrs.field(default=None)  # noqa: UP007, UP045


@attrs.define
class _InlineCompletionRequest:
    id: Union[int, str] = attrs.field()  # noqa: UP007
    params: InlineCompletionParams = attrs.field()
    method: str = attrs.field(default=types.TEXT_DOCUMENT_INLINE_COMPLETION)
    jsonrpc: str = attrs.field(default="2.0")


class MGDProtocol(LanguageServerProtocol):
    """pygls' protocol, made to answer every malformed message and to advertise inline completion."""

    def get_message_type(self, method: str):
        """The message class to parse `method` into (a lenient one for inline completion)."""
        if method == types.TEXT_DOCUMENT_INLINE_COMPLETION:
            return _InlineCompletionRequest
        return super().get_message_type(method)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> types.InitializeResult:
        """Initialise pygls, then mgd's folders, settings and capabilities."""
        result = super().lsp_initialize(params)
        # pygls 1.3 knows the LSP 3.18 inline-completion types but does not advertise the method
        result.capabilities.inline_completion_provider = types.InlineCompletionOptions()
        self._server.backend.initialize(params, result.capabilities.position_encoding or "utf-16")
        return result

    def _execute_request_callback(self, msg_id, future):
        # pygls reports every exception of an async handler as InternalError;
        # a JSON-RPC error we raise on purpose keeps its own code and message.
        if not future.cancelled() and isinstance(future.exception(), JsonRpcException):
            self._request_futures.pop(msg_id, None)
            self._send_response(msg_id, error=future.exception().to_response_error())
            return
        super()._execute_request_callback(msg_id, future)

    def _data_received(self, data: bytes) -> None:
        # pygls 1.3 stops answering for good after a body that is not a JSON
        # object, and sends no response to a request it cannot parse; frame
        # and parse here so each bad message gets its error and the stream goes on.
        buffer = b"".join(self._message_buf) + data
        self._message_buf = []
        while buffer:
            end = buffer.find(_FRAME_HEADER_END)
            if end < 0:
                if len(buffer) > _MAX_HEADER:  # no header end in sight: garbage, drop it
                    log.warning("dropped %d bytes with no message header", len(buffer))
                    buffer = b""
                break
            match = _CONTENT_LENGTH.search(buffer[:end])
            if match is None:
                log.warning("dropped a message header with no Content-Length")
                buffer = buffer[end + len(_FRAME_HEADER_END) :]
                continue
            start = end + len(_FRAME_HEADER_END)
            length = int(match.group(1))
            if len(buffer) < start + length:
                break
            body, buffer = buffer[start : start + length], buffer[start + length :]
            self._handle_body(body)
        if buffer:
            self._message_buf = [buffer]

    def _handle_body(self, body: bytes) -> None:
        try:
            text = body.decode(self.CHARSET)
            raw = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            self._send_error(None, JsonRpcParseError("the message body is not JSON"))
            return
        msg_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or raw.get("jsonrpc") != self.VERSION or not isinstance(raw.get("method", ""), str):
            if msg_id is not None or not isinstance(raw, dict) or "method" in raw:
                self._send_error(msg_id, JsonRpcInvalidRequest("not a JSON-RPC 2.0 request, notification or response"))
            return
        try:
            message = json.loads(text, object_hook=self._deserialize_message)
        except JsonRpcException as err:
            method = raw.get("method")
            if method is not None and "id" in raw:
                if isinstance(err, JsonRpcInvalidParams):
                    err = JsonRpcInvalidParams(f"invalid parameters for {method}: {_what_is_wrong(err.__cause__)}")
                self._send_error(msg_id, err)
            else:
                log.warning("ignored a malformed %s notification", method or "(no method)")
            return
        try:
            self._procedure_handler(message)
        except Exception as err:
            log.exception("error while handling a message")
            if "id" in raw and "method" in raw:
                self._send_error(msg_id, JsonRpcInternalError(str(err)))

    def _send_error(self, msg_id, error: JsonRpcException) -> None:
        # a plain dict: pygls' typed message would drop `"id": null`, which JSON-RPC requires
        # when the id could not be read
        if not isinstance(msg_id, (int, str)) or isinstance(msg_id, bool):
            msg_id = None
        self._send_data({"jsonrpc": self.VERSION, "id": msg_id, "error": {"code": error.code, "message": error.message}})


class Backend:
    """mgd's state behind the protocol: folders, buffers, settings, analysis servers and the model."""

    def __init__(self, server: MGDLanguageServer, settings: Settings) -> None:
        self.server = server
        self.settings = settings
        self.folders = WorkspaceFolders()
        self.documents = DocumentStore()
        self.sessions = SessionPool()
        self.completer = Completer(self.sessions)

    # -- lifecycle -----------------------------------------------------------

    def initialize(self, params: types.InitializeParams, encoding: str) -> None:
        """Take the client's folders, position encoding and initializationOptions."""
        self.documents.encoding = str(encoding)
        self._configure(params.initialization_options, "initializationOptions")
        declared = [folder.uri for folder in params.workspace_folders or []]
        if not declared and params.root_uri:
            declared = [params.root_uri]
        elif not declared and params.root_path:
            declared = [f"file://{os.path.abspath(params.root_path)}"]
        for uri in declared:
            root = self.folders.add(uri)
            if root is None:
                self._tell(types.MessageType.Warning, f"mgd: workspace folder {uri} is not a local directory; ignored")
            else:
                self.sessions.ensure(root)
        if not self.folders.roots:
            self._tell(types.MessageType.Warning, "mgd: no workspace folder declared; no document can be completed")
        if params.process_id:
            _watch_parent(params.process_id, self)

    def close(self) -> None:
        """Stop the worker and every analysis server."""
        self.completer.close()
        self.sessions.close()

    def _configure(self, options, source: str) -> None:
        self.settings, problems = update_settings(self.settings, options)
        for problem in problems:
            self._tell(types.MessageType.Warning, f"mgd: {source}: {problem}")
        self.completer.load(self.settings.model)

    def _tell(self, kind: types.MessageType, message: str) -> None:
        """Tell the user: a pop-up for warnings, the client's log for the rest."""
        log.log(logging.WARNING if kind <= types.MessageType.Warning else logging.INFO, "%s", message)
        try:
            if kind <= types.MessageType.Warning:
                self.server.show_message(message, kind)
            else:
                self.server.show_message_log(message, kind)
        except Exception as err:  # noqa: BLE001 - no transport yet
            log.debug("could not tell the client: %s", err)

    # -- notifications -------------------------------------------------------

    def did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        """Hold the buffer, if it lies inside a workspace folder."""
        item = params.text_document
        try:
            _, path = self.folders.root_for(item.uri)
        except DocumentError as err:
            self._tell(types.MessageType.Log, f"mgd: not serving {item.uri}: {err}")
            return
        self.documents.open(item.uri, path, item.text, item.version)

    def did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        """Apply the editor's edits to the held buffer."""
        uri = params.text_document.uri
        changes = []
        for change in params.content_changes:
            span = getattr(change, "range", None)
            if span is None:
                changes.append((None, change.text))
            else:
                changes.append(((span.start.line, span.start.character, span.end.line, span.end.character), change.text))
        try:
            self.documents.change(uri, params.text_document.version, changes)
        except DocumentError as err:
            self._tell(types.MessageType.Log, f"mgd: edit to {uri} not applied: {err}")

    def did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        """Forget the buffer and drop its queued or running completions."""
        self.documents.close(params.text_document.uri)
        self.completer.cancel_document(params.text_document.uri, "the document was closed")

    def did_change_configuration(self, params: types.DidChangeConfigurationParams) -> None:
        """New settings apply to the next request; a new model path loads in the background."""
        self._configure(params.settings, "workspace/didChangeConfiguration")

    def did_change_folders(self, params: types.DidChangeWorkspaceFoldersParams) -> None:
        """Start analysis servers for new folders, stop those of removed ones."""
        for folder in params.event.removed:
            root = self.folders.remove(folder.uri)
            if root is not None:
                self.sessions.discard(root)
        for folder in params.event.added:
            root = self.folders.add(folder.uri)
            if root is not None:
                self.sessions.ensure(root)

    # -- requests --------------------------------------------------------------

    async def inline_completion(self, params: InlineCompletionParams) -> types.InlineCompletionList:
        """The guided completion at the cursor, as one inline item."""
        doc, root, offset = self._locate(params.text_document.uri, params.position)
        if not self.completer.ready:
            return types.InlineCompletionList(items=[])
        cursor = self._position(doc, offset)  # before awaiting: the buffer may change meanwhile
        result = await self._run(Job(INLINE, doc.uri, root, _document(doc, offset), self.settings, _typed(doc.text, offset)))
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=text, range=types.Range(cursor, cursor)) for text in result.texts]
        )

    async def completion(self, params: types.CompletionParams) -> types.CompletionList:
        """The model's best guided completions at the cursor, as completion items replacing the word typed so far."""
        doc, root, offset = self._locate(params.text_document.uri, params.position)
        if not self.completer.ready:
            return types.CompletionList(is_incomplete=True, items=[])
        word = _WORD_END.search(doc.text, 0, offset).group(0)  # before awaiting: the buffer may change meanwhile
        span = types.Range(self._position(doc, offset - len(word)), self._position(doc, offset))
        result = await self._run(Job(ITEMS, doc.uri, root, _document(doc, offset), self.settings, _typed(doc.text, offset)))
        detail = "mgd (guided)" if result.guided else "mgd (unguided)"
        items = [
            types.CompletionItem(
                label=word + text,
                kind=types.CompletionItemKind.Text,
                detail=detail,
                sort_text=f"{rank:02d}",
                filter_text=word + text,
                text_edit=types.TextEdit(range=span, new_text=word + text),
                insert_text_format=types.InsertTextFormat.PlainText,
            )
            for rank, text in enumerate(result.texts)
        ]
        # the model conditions on what is typed: ask again on the next keystroke rather than filter
        return types.CompletionList(is_incomplete=True, items=items)

    def status(self) -> dict:
        """What the server is doing (the `mgd/status` request)."""
        return {
            "version": __version__,
            **self.completer.status(),
            "folders": [str(root) for root in self.folders.roots],
            "openDocuments": len(self.documents),
            "analysisServers": self.sessions.status(),
            "settings": {
                "model": self.settings.model,
                "maxNewTokens": self.settings.max_new_tokens,
                "temperature": self.settings.temperature,
                "guided": self.settings.guided,
                "monitors": self.settings.monitors.split(","),
                "multiline": self.settings.multiline,
                "maxLines": self.settings.max_lines,
                "completionItems": self.settings.completion_items,
            },
        }

    # -- helpers ---------------------------------------------------------------

    def _locate(self, uri: str, position: types.Position) -> tuple[OpenDocument, object, int]:
        try:
            root, _ = self.folders.root_for(uri)
            doc = self.documents.get(uri)
            offset = self.documents.offset(doc, position.line, position.character)
        except DocumentError as err:
            raise JsonRpcInvalidParams(str(err)) from None
        return doc, root, offset

    def _position(self, doc: OpenDocument, offset: int) -> types.Position:
        line_start = max(doc.text.rfind("\n", 0, offset), doc.text.rfind("\r", 0, offset)) + 1
        line = len(re.findall(r"\r\n|\r|\n", doc.text[:line_start]))
        part = doc.text[line_start:offset]
        encoding = self.documents.encoding
        if encoding == "utf-8":
            units = len(part.encode("utf-8"))
        elif encoding == "utf-32":
            units = len(part)
        else:
            units = len(part.encode("utf-16-le")) // 2
        return types.Position(line=line, character=units)

    async def _run(self, job: Job):
        future = self.completer.submit(job)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:  # $/cancelRequest: pygls cancels this task
            job.cancel("cancelled by the client")
            raise
        except Cancelled as err:
            raise JsonRpcRequestCancelled(str(err) or "cancelled") from None


def _what_is_wrong(error: BaseException | None) -> str:
    """cattrs' validation errors as short `problem @ $.params.field` phrases."""
    try:
        return "; ".join(cattrs.transform_error(error))[:500]
    except Exception:  # noqa: BLE001 - not a cattrs error: say what it is
        return str(error) or type(error).__name__


def _typed(text: str, offset: int) -> str:
    """The word being typed before `offset` (with the one space before it: tokenizers write ` word` as one token)."""
    word = _WORD_END.search(text, 0, offset).group(0)[-_MAX_WORD:] if offset else ""
    start = offset - len(word)
    if word and start >= 2 and text[start - 1] == " " and not text[start - 2].isspace():
        return " " + word
    return word


def _document(doc: OpenDocument, offset: int) -> Document:
    # the editor's buffer, unsaved edits included, is what the monitors and the model see
    return Document(str(doc.path), doc.text[:offset], doc.text[offset:])


def _watch_parent(pid: int, backend: Backend) -> None:
    """Exit when the editor that started us is gone (LSP's processId), so no server is left behind."""

    def watch() -> None:
        while True:
            time.sleep(5.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                log.warning("the editor (pid %d) is gone; stopping", pid)
                backend.close()
                os._exit(0)
            except PermissionError:  # alive, owned by someone else
                pass

    threading.Thread(target=watch, name="mgd-parent-watch", daemon=True).start()


class MGDLanguageServer(LanguageServer):
    """pygls' server with mgd's backend attached."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("mgd", __version__, protocol_cls=MGDProtocol)
        self.backend = Backend(self, settings)


def build_server(settings: Settings | None = None) -> MGDLanguageServer:
    """A server with every handler registered; the model starts loading now, in the background."""
    server = MGDLanguageServer(settings or Settings())
    backend = server.backend

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        backend.did_open(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        backend.did_change(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        backend.did_close(params)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        backend.did_change_configuration(params)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
        backend.did_change_folders(params)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION)
    async def inline_completion(params: InlineCompletionParams):
        return await backend.inline_completion(params)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
    async def completion(params: types.CompletionParams):
        return await backend.completion(params)

    @server.feature(STATUS)
    def status(params) -> dict:
        return backend.status()

    backend.completer.load(backend.settings.model)
    return server
