"""How long basedpyright-langserver takes to answer hover and diagnostics on a real package, cold and warm, after edits."""
import json, pathlib, statistics, sys, time, re
from mgd.server.client import LspClient
import psutil
root = pathlib.Path('/tmp/pyr')
path = root / 'src/a2a/server/agent_execution/active_task.py'
text = path.read_text()
c = LspClient.spawn(['basedpyright-langserver', '--stdio'], stderr_path='/tmp/prof/pyright.err')
proc = psutil.Process(c.pid)
def cpu():
    t = proc.cpu_times(); s = t.user + t.system
    for ch in proc.children(recursive=True):
        try: ct = ch.cpu_times(); s += ct.user + ct.system
        except psutil.Error: pass
    return s
t0 = time.perf_counter()
c.initialize(root, {})
uri = c.open(path, text)
def pos(offset, t):
    line = t.count('\n', 0, offset); col = offset - (t.rfind('\n', 0, offset) + 1)
    return {'line': line, 'character': col}
# hover points: every `self.x` attribute access in the file's second half
points = [m.end() - 1 for m in re.finditer(r'self\.\w+', text)][::7][:40]
def hover(t, off):
    return c.request('textDocument/hover', {'textDocument': {'uri': uri}, 'position': pos(off, t)}, timeout=120)
t1 = time.perf_counter(); h = hover(text, points[0]); first = time.perf_counter() - t1
print('init+open', round(t1 - t0, 2), 's; first hover', round(first, 2), 's:', json.dumps(h)[:160])
warm = []
c0 = cpu()
for off in points:
    t = time.perf_counter(); hover(text, off); warm.append(time.perf_counter() - t)
print('warm hover, same text: median %.1f ms, max %.1f ms, server cpu %.2f s for %d' % (1000*statistics.median(warm), 1000*max(warm), cpu()-c0, len(points)))
# edits: insert a statement inside a method, then hover there (what a decoder would do each step)
edited = []
c0 = cpu()
version = 2
for i, off in enumerate(points[:20]):
    line_end = text.find('\n', off)
    new = text[:line_end] + f'\n        _probe{i} = 1' + text[line_end:]
    c.replace_text(uri, new, version); version += 1
    t = time.perf_counter(); hover(new, off); edited.append(time.perf_counter() - t)
print('hover after an edit: median %.1f ms, max %.1f ms, server cpu %.2f s for %d' % (1000*statistics.median(edited), 1000*max(edited), cpu()-c0, len(edited)))
# pull diagnostics after an edit
diag = []
c0 = cpu()
for i, off in enumerate(points[:10]):
    line_end = text.find('\n', off)
    new = text[:line_end] + f'\n        _probe{i} = 1' + text[line_end:]
    c.replace_text(uri, new, version); version += 1
    t = time.perf_counter()
    try:
        r = c.request('textDocument/diagnostic', {'textDocument': {'uri': uri}}, timeout=120)
    except Exception as e:
        print('diagnostic request failed:', e); break
    diag.append(time.perf_counter() - t)
if diag:
    print('pull diagnostics after an edit: median %.1f ms, max %.1f ms, server cpu %.2f s for %d; items %d' % (1000*statistics.median(diag), 1000*max(diag), cpu()-c0, len(diag), len(r.get('items', [])) if isinstance(r, dict) else -1))
print('server rss MB', round(sum(p.memory_info().rss for p in [proc] + proc.children(recursive=True)) / 2**20))
c.shutdown()
