"""Save the random number generators' states in checkpoints and restore them
on resume, so a resumed run continues exactly like the uninterrupted one."""
import logging
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner
# the root registry: found from mmseg, mmdet and mmrotate scopes alike
from mmengine.registry import HOOKS

#: key of the per-rank RNG states in the checkpoint dict
CKPT_KEY = 'rng_states'


def get_rng_state() -> Dict[str, Any]:
    """This process's python, numpy, torch CPU and CUDA generator states.

    Only ints, tuples and tensors, so ``torch.load(weights_only=True)`` reads
    them back.
    """
    np_state = np.random.get_state(legacy=False)
    state = dict(
        python=random.getstate(),
        numpy=dict(
            bit_generator=np_state['bit_generator'],
            key=torch.from_numpy(
                np_state['state']['key'].astype(np.int64)),
            pos=int(np_state['state']['pos']),
            has_gauss=int(np_state['has_gauss']),
            gauss=float(np_state['gauss'])),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore the states written by :func:`get_rng_state`."""
    random.setstate(_as_tuple(state['python']))
    np_state = state['numpy']
    np.random.set_state(
        dict(bit_generator=np_state['bit_generator'],
             state=dict(key=np_state['key'].numpy().astype(np.uint32),
                        pos=np_state['pos']),
             has_gauss=np_state['has_gauss'], gauss=np_state['gauss']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        cuda = state['cuda']
        if len(cuda) != torch.cuda.device_count():
            raise RuntimeError(
                f'the checkpoint holds CUDA RNG states of {len(cuda)} devices '
                f'per process but this process sees '
                f'{torch.cuda.device_count()}: resume with the same '
                'CUDA_VISIBLE_DEVICES layout, or remove RNGStateHook')
        torch.cuda.set_rng_state_all(cuda)


def _as_tuple(obj):
    """``random.setstate`` needs tuples; a checkpoint round trip may give
    lists."""
    if isinstance(obj, (list, tuple)):
        return tuple(_as_tuple(o) for o in obj)
    return obj


class _RestoreBeforeBatch:
    """Wraps the train loop's dataloader iterator: after ``skip`` batches (the
    loop's fast-forward over already trained data) it restores the RNG
    states, then hands the loop its own iterator back."""

    def __init__(self, loop, skip: int, state: Dict[str, Any]) -> None:
        self.loop, self.inner = loop, loop.dataloader_iterator
        self.skip, self.state = skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip == 0:
            set_rng_state(self.state)
            self.loop.dataloader_iterator = self.inner
            return next(self.inner)
        self.skip -= 1
        return next(self.inner)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Makes ``resume`` continue a run exactly (bit-identical on CPU with
    ``randomness.deterministic=True``).

    mmengine checkpoints hold the seed but not the generators' states, so
    after a resume dropout, random crops/flips in a main-process data
    pipeline (``num_workers=0``) and samplers of RPN / RoI heads draw other
    numbers than the uninterrupted run. This hook:

    * after every training iteration (and epoch) records python ``random``,
      numpy, torch CPU and CUDA generator states of every rank (gathered with
      ``all_gather_object``, so rank 0's checkpoint holds all of them) and
      writes them to ``checkpoint['rng_states']``;
    * on resume restores each rank's states right before the first new batch
      is fetched, i.e. after mmengine's ``IterBasedTrainLoop`` has
      fast-forwarded the dataloader over the trained batches (which runs the
      pipeline and draws random numbers), or at the start of the next epoch
      of an ``EpochBasedTrainLoop``;
    * keeps validation from consuming the training generators
      (``isolate_val``): a validation at the checkpoint iteration happens in
      the uninterrupted run only, so otherwise it would shift the streams.

    Dataloader workers need nothing: mmengine's ``worker_init_fn`` seeds
    them from the seed, rank and worker id, and the fast-forward replays
    each worker's samples. s5_mm's own generators (FixMatch's CutMix boxes
    and feature dropout) are seeded from the seed, rank and iteration
    (:func:`s5_mm.models.utils.perturbations.seeded_generator`).

    Add it to a config with ``default_hooks = dict(rng_state=dict(
    type='RNGStateHook'))`` (``configs/_base_/default_hooks.py`` does).

    Args:
        isolate_val (bool): Save the generators before validation and
            restore them after it. Defaults to True.
    """

    # after every other after_train_iter hook, before CheckpointHook
    # (VERY_LOW = 90) writes the checkpoint
    priority = 85

    def __init__(self, isolate_val: bool = True) -> None:
        self.isolate_val = isolate_val
        self._captured: Optional[Dict[str, Any]] = None
        self._loaded: Optional[Dict[str, Any]] = None
        self._val_state: Optional[Dict[str, Any]] = None
        self._restore_at_epoch: Optional[Dict[str, Any]] = None

    def _capture(self, done_iters: int) -> None:
        state = get_rng_state()
        states: List[Dict[str, Any]] = (
            all_gather_object(state) if get_world_size() > 1 else [state])
        self._captured = dict(iter=done_iters, world_size=len(states),
                              states=states)

    def after_train_iter(self, runner: Runner, batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        """Record the states at the end of the iteration (before saving)."""
        self._capture(runner.iter + 1)

    def after_train_epoch(self, runner: Runner) -> None:
        """Record the states at the end of the epoch (before saving)."""
        self._capture(runner.iter)

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Write the recorded states of every rank into the checkpoint."""
        if self._captured is not None:
            checkpoint[CKPT_KEY] = self._captured

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Keep the checkpoint's states; they are used if this is a resume."""
        self._loaded = checkpoint.get(CKPT_KEY)

    def before_train(self, runner: Runner) -> None:
        """On resume, arrange for the states to be restored right before the
        first untrained batch is fetched."""
        loaded, self._loaded = self._loaded, None
        if runner.iter == 0:
            return  # a fresh run, or load_from (weights only)
        if loaded is None:
            print_log(
                'RNGStateHook: the resumed checkpoint has no RNG states '
                f"('{CKPT_KEY}'; written without this hook): the run goes on "
                'with freshly seeded generators and is not bit-identical to '
                'an uninterrupted run', logger='current',
                level=logging.WARNING)
            return
        world_size = get_world_size()
        if loaded['world_size'] != world_size or loaded['iter'] != runner.iter:
            print_log(
                f"RNGStateHook: the checkpoint's RNG states are of "
                f"{loaded['world_size']} ranks at iteration {loaded['iter']}, "
                f'this run has {world_size} ranks at iteration {runner.iter}: '
                'states not restored, the run is not bit-identical to an '
                'uninterrupted one', logger='current', level=logging.WARNING)
            return
        state = loaded['states'][get_rank()]
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop
            loop.dataloader_iterator = _RestoreBeforeBatch(
                loop, runner.iter, state)
        else:  # EpochBasedTrainLoop: a new iterator each epoch
            self._restore_at_epoch = state
        print_log(f'RNGStateHook: RNG states of iteration {runner.iter} will '
                  'be restored before the next batch', logger='current')

    def before_train_epoch(self, runner: Runner) -> None:
        """Epoch-based resume: restore before the epoch's dataloader
        iterator is created."""
        if self._restore_at_epoch is not None:
            set_rng_state(self._restore_at_epoch)
            self._restore_at_epoch = None

    def before_val(self, runner: Runner) -> None:
        """Save the generators so that validation does not consume them."""
        if self.isolate_val:
            self._val_state = get_rng_state()

    def after_val(self, runner: Runner) -> None:
        """Give training back the generators it had before validation."""
        if self._val_state is not None:
            set_rng_state(self._val_state)
            self._val_state = None
