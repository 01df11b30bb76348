import os, sys
sys.path.insert(0, '/work/main/benchmarks')
level = int(os.environ.get('NICE_LEVEL', '0'))
from mgd.lsp import process_guard, session, jdtls
orig = process_guard.guarded
def guarded(command, parent_pid=None):
    wrapped = orig(command, parent_pid)
    return ['nice', '-n', str(level), *wrapped] if level else wrapped
session.guarded = guarded; jdtls.guarded = guarded
import bench_guidance
sys.exit(bench_guidance.main(sys.argv[1:]))
