"""A local job's own process: ``python -m codegen_lab.jobs FOLDER``, started by ``LocalJobs.run``."""

import sys
from pathlib import Path

from codegen_lab.jobs.local import run_local_job

sys.exit(run_local_job(Path(sys.argv[1])))
