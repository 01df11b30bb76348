import os, sys, time, threading, atexit, json
sys.path.insert(0, '/work/main/benchmarks'); sys.path.insert(0, 'SNAPSHOT')
import llama_cpp
from mgd.decoding import llama_engine
acc = {True: [0.0, 0], False: [0.0, 0]}
mode = {'guided': False}
orig_run = llama_engine.LlamaEngine.run
def run(self, prompt_ids, *, hooks=(), **kw):
    mode['guided'] = bool(hooks)
    return orig_run(self, prompt_ids, hooks=hooks, **kw)
llama_engine.LlamaEngine.run = run
orig_eval = llama_cpp.Llama.eval
THROTTLE = os.environ.get('THROTTLE') == '1'
cur = {'n': None}
def ev(self, tokens):
    if THROTTLE and len(tokens) == 1:
        from mgd.decoding.prefetch import _gates
        busy = any(g._busy for g in list(_gates.values()))
        n = 1 if busy else 2
        if cur['n'] != n:
            self._ctx.set_n_threads(n, 2); cur['n'] = n
            acc.setdefault('switches', 0); acc['switches'] += 1
        acc.setdefault('busy', [0, 0]); acc['busy'][busy] += 1
    t = time.perf_counter(); r = orig_eval(self, tokens)
    if len(tokens) == 1:
        a = acc[mode['guided']]; a[0] += time.perf_counter() - t; a[1] += 1
    return r
llama_cpp.Llama.eval = ev
def report():
    threads = []
    for tid in os.listdir('/proc/self/task'):
        try:
            stat = open(f'/proc/self/task/{tid}/stat').read()
            name = open(f'/proc/self/task/{tid}/comm').read().strip()
            f = stat.rsplit(')', 1)[1].split()
            threads.append((int(f[11]) + int(f[12]), name, tid))
        except OSError: pass
    tck = os.sysconf('SC_CLK_TCK')
    sys.stderr.write('EVAL ' + json.dumps({'guided': acc[True], 'unguided': acc[False], 'switches': acc.get('switches'), 'busy': acc.get('busy')}) + '\n')
    for c, n, t in sorted(threads, reverse=True)[:12]:
        sys.stderr.write(f'THREAD {n} {t} {c/tck:.1f}s\n')
import bench_guidance
rc = bench_guidance.main(sys.argv[1:])
report()
sys.exit(rc)
