"""The compute role as a Ray actor: restarted by Ray when it dies, logic in plain classes."""
import ray

from ..control.role_actor import RoleActor
from .service import start_compute


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)
class ComputeActor(RoleActor):
    starter = staticmethod(start_compute)
