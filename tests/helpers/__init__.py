"""Helpers every test reuses instead of writing its own:

* :mod:`tests.helpers.waiting`: wait for a condition with a deadline (never a bare sleep);
* :mod:`tests.helpers.ids`: unique order IDs and names, so tests sharing services never collide;
* :mod:`tests.helpers.processes`: ``python -m orderflow …`` as a child process, stopped with
  SIGTERM (or killed) and its output kept for the failure message;
* :mod:`tests.helpers.starts`: starting an order's workflow the way the bridge does;
* :mod:`tests.helpers.tools`: where the offline checkers are.
"""
