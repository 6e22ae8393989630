"""``python -m workbench_quantum rollout RUN_DIR SCENARIO.yaml``: the plugin's commands."""

from .commands import main

main()
