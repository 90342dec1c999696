"""The floor workflow: one echo activity and a 1 ms timer, the least a contact could cost.

It lives in a module rather than in the benchmark script because the sandbox re-executes a
workflow's module for every new workflow instance, and a ``__main__`` module is re-read and
recompiled from source each time (no bytecode cache), which would slow the floor down.
"""

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def echo(value: str) -> str:
    return value


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        echoed = await workflow.execute_activity(echo, value, start_to_close_timeout=timedelta(seconds=30))
        await workflow.sleep(0.001)
        return echoed
