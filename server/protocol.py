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
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.server import LanguageServer

from mgd import __version__
from mgd.lsp.positions import offset_to_position
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
_NAME = re.compile(r"(?:[^\W\d]|\$)[\w$]*")  # an identifier at the start of a completion (Java's may hold `$`)
_MAX_WORD = 80
_BEFORE_INITIALIZE = ("initialize", "exit")  # what LSP lets through before `initialize`


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

    _initialize_seen = False

    def get_message_type(self, method: str):
        """The message class to parse `method` into (a lenient one for inline completion)."""
        if method == types.TEXT_DOCUMENT_INLINE_COMPLETION:
            return _InlineCompletionRequest
        return super().get_message_type(method)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> types.InitializeResult:
        """Initialise pygls, then mgd's folders, settings and capabilities."""
        result = super().lsp_initialize(params)
        self._initialize_seen = True
        # pygls 1.3 knows the LSP 3.18 inline-completion types but does not advertise the method
        result.capabilities.inline_completion_provider = types.InlineCompletionOptions()
        self._server.backend.initialize(params, result.capabilities.position_encoding or "utf-16")
        return result

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        """Update pygls' own copy of the buffer if it holds one (mgd's copy is the backend's, updated next).

        pygls' handler fails on a document it does not hold, and then the
        backend never hears of the edit to tell the client.
        """
        if params.text_document.uri not in self.workspace.text_documents:
            return
        for change in params.content_changes:
            try:
                self.workspace.update_text_document(params.text_document, change)
            except Exception as err:  # noqa: BLE001 - pygls' copy is not the one completions read
                log.debug("pygls could not apply an edit to %s: %s", params.text_document.uri, err)

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
        method = raw.get("method")
        if method is not None and not self._initialize_seen and method not in _BEFORE_INITIALIZE:
            if "id" in raw:
                self._send_error(msg_id, JsonRpcServerNotInitialized(f"{method} before initialize: send initialize first"))
            else:
                log.warning("ignored the %s notification: it came before initialize", method)
            return
        try:
            message = json.loads(text, object_hook=self._deserialize_message)
        except JsonRpcException as err:
            if isinstance(err, JsonRpcInvalidParams):
                err = JsonRpcInvalidParams(f"invalid parameters for {method}: {_what_is_wrong(err.__cause__)}")
            if method is not None and "id" in raw:
                log.warning("answered %s with an error: %s", method, err.message)
                self._send_error(msg_id, err)
            else:
                log.warning("ignored a malformed %s notification: %s", method or "(no method)", err.message)
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
        self._held: list[str] | None = []  # warnings from before `initialize`, shown once it comes; None after
        self.sessions = SessionPool(on_problem=self.warn_from_any_thread)
        self.completer = Completer(self.sessions, on_problem=self.warn_from_any_thread)

    # -- lifecycle -----------------------------------------------------------

    def initialize(self, params: types.InitializeParams, encoding: str) -> None:
        """Take the client's folders, position encoding and initializationOptions."""
        self.documents.encoding = str(getattr(encoding, "value", encoding))  # str() of the enum would be its name
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
        held, self._held = self._held or [], None
        for message in held:  # logged when they happened
            self.server.show_message(message, types.MessageType.Warning)

    def close(self) -> None:
        """Stop the worker and every analysis server."""
        self.completer.close()
        self.sessions.close()

    def _configure(self, options, source: str) -> None:
        self.settings, problems = update_settings(self.settings, options)
        for problem in problems:
            self._tell(types.MessageType.Warning, f"mgd: {source}: {problem}")
        self.completer.load(self.settings.model, self.settings.engine)

    def warn_from_any_thread(self, message: str) -> None:
        """Show a warning in the editor (`window/showMessage`) from any thread: the protocol's loop sends it."""
        try:
            self.server.loop.call_soon_threadsafe(self._warn, message)
        except RuntimeError:  # the loop is closed: the client has gone
            log.warning("%s", message)

    def _warn(self, message: str) -> None:
        if self._held is not None:  # no client to show it to yet
            log.warning("%s", message)
            self._held.append(message)
            return
        self._tell(types.MessageType.Warning, message)

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
        items = []
        for rank, text in enumerate(result.texts):
            label, rest = _label_and_rest(word + text)
            items.append(
                types.CompletionItem(
                    label=label,  # the name alone; the editor shows the rest beside it and inserts it all
                    label_details=types.CompletionItemLabelDetails(detail=rest) if rest else None,
                    kind=types.CompletionItemKind.Text,
                    detail=detail,
                    sort_text=f"{rank:02d}",
                    filter_text=label,
                    insert_text=word + text,
                    text_edit=types.TextEdit(range=span, new_text=word + text),
                    insert_text_format=types.InsertTextFormat.PlainText,
                )
            )
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
                "engine": self.settings.engine,
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
        return types.Position(**offset_to_position(doc.text, offset, self.documents.encoding))

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
        return "; ".join(cattrs.transform_error(error, format_exception=_describe_invalid))[:500]
    except Exception:  # noqa: BLE001 - not a cattrs error: say what it is
        return str(error) or type(error).__name__


def _describe_invalid(error: BaseException, type_) -> str:
    # lsprotocol's validators say what was wrong (`Position.line should be in range [0:2147483647], but was -1`)
    if isinstance(error, ValueError) and str(error):
        return str(error)
    return cattrs.v.format_exception(error, type_)


def _label_and_rest(text: str) -> tuple[str, str]:
    """A completion item's label (the name the completion starts with) and what follows it."""
    match = _NAME.match(text)
    if match is None:
        return text, ""
    return match.group(0), text[match.end() :]


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


class _QuietDeserializeErrors(logging.Filter):
    """Drops pygls' traceback for a message it cannot parse: `_handle_body` answers it and logs one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unable to deserialize message")


def build_server(settings: Settings | None = None) -> MGDLanguageServer:
    """A server with every handler registered; the model starts loading now, in the background."""
    json_rpc_log = logging.getLogger("pygls.protocol.json_rpc")
    if not any(isinstance(f, _QuietDeserializeErrors) for f in json_rpc_log.filters):
        json_rpc_log.addFilter(_QuietDeserializeErrors())
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

    backend.completer.load(backend.settings.model, backend.settings.engine)
    return server
