"""Persistence (issue 6, part 5).

LinearARModel / TrainResult / Figure1Result / Figure2Result round-trip bit-exactly (NaN
payloads included); writes are atomic (a failure mid-write leaves the old file and no temp
file); truncated, tampered, foreign, wrong-kind and wrong-version files raise a clear
ValueError, a missing one FileNotFoundError.
"""
from __future__ import annotations

import json
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lpgx
from lpgx import _io
from lpgx.experiments import Figure1Result, Figure2Result
from lpgx.training import TrainResult


def bits(a):
    a = np.ascontiguousarray(a)
    return a.dtype, a.shape, a.tobytes()


def leftovers(folder):
    return [p for p in os.listdir(folder) if p.endswith(".tmp")]


def model_with_extreme_weights(blocks=lpgx.BLOCKS, seed=0):
    m = lpgx.LinearARModel(3, 4, 2, blocks=blocks)
    w = np.random.default_rng(seed).standard_normal(m.num_params)
    specials = [0.0, -0.0, 5e-324, -5e-324, 1e-308, 1e300, -1.7976931348623157e308, np.nextafter(1.0, 2.0)]
    w[: len(specials)] = specials[: m.num_params]
    m.w = w
    return m


# ----------------------------------------------------------------------------------------
# round trips
@pytest.mark.parametrize("blocks", [lpgx.DEFAULT_BLOCKS, lpgx.BLOCKS, ("bias",), ("context_position",)])
@pytest.mark.parametrize("kind", ["str", "path", "pathlike", "no_suffix", "nested"])
def test_model_round_trip_is_bit_exact(tmp_path, blocks, kind):
    m = model_with_extreme_weights(blocks)

    class PL:  # a bare os.PathLike
        def __fspath__(self):
            return str(tmp_path / "pl.npz")
    path = {"str": str(tmp_path / "m.npz"), "path": tmp_path / "m.npz", "pathlike": PL(),
            "no_suffix": tmp_path / "model.bin", "nested": tmp_path / "a" / "b" / "m.npz"}[kind]
    m.save(path)
    back = lpgx.LinearARModel.load(path)
    assert back == m and back.config() == m.config()
    assert bits(back.w) == bits(m.w)
    assert back.w.flags.c_contiguous and not np.shares_memory(back.w, m.w)
    assert not np.shares_memory(back.block(back.blocks[0]), m.block(m.blocks[0]))
    assert leftovers(Path(os.fspath(path)).parent) == []
    # the loaded model computes the same bits
    x = np.random.default_rng(1).standard_normal((3, 2))
    y = np.zeros((3, 4), dtype=int)
    with np.errstate(all="ignore"):
        for a, b in ((m, back),):
            try:
                ref = a.token_log_prob(x, y)
            except ValueError:
                continue
            assert bits(b.token_log_prob(x, y)) == bits(ref)


def _train_result_with_nans():
    task = lpgx.TeacherTask(3, 4, 5, rng=0)
    model = lpgx.LinearARModel(4, 5, 3)
    res = lpgx.post_train(model, task, steps=6, batch_size=8, rng=1, test=8, test_every=2, track=task.sample(3, rng=2),
                          track_every=1, n_threads=1)
    nan_payload = np.frombuffer(np.array([0x7FF8DEADBEEF0001], dtype=np.uint64).tobytes(), dtype=np.float64)[0]
    mean = res.mean_reward.copy()
    mean[1], mean[3] = np.nan, nan_payload  # NaN records, one with a payload
    tracked = res.tracked_log_lik.copy()
    tracked[2, 1] = -np.inf
    return TrainResult(res.test_steps, res.test_error, res.track_steps, tracked, res.queries, mean, res.success,
                       res.seconds, res.steps_done, res.config)


def test_train_result_round_trip_is_bit_exact(tmp_path):
    r = _train_result_with_nans()
    r.save(tmp_path / "r.npz")
    back = TrainResult.load(tmp_path / "r.npz")
    for f in ("test_steps", "test_error", "track_steps", "tracked_log_lik", "queries", "mean_reward", "success"):
        assert bits(getattr(back, f)) == bits(getattr(r, f)), f
    assert back.seconds == r.seconds and back.steps_done == r.steps_done
    assert back.config == json.loads(json.dumps(r.config))  # JSON: tuples come back as lists
    assert leftovers(tmp_path) == []


def test_partial_train_result_round_trip(tmp_path):
    task = lpgx.TeacherTask(3, 4, 5, rng=0)
    model = lpgx.LinearARModel(4, 5, 3)

    def stop(s):
        if s == 3:
            raise RuntimeError("stop")
    with pytest.raises(RuntimeError) as info:
        lpgx.post_train(model, task, steps=10, batch_size=4, rng=1, test=4, test_every=2, progress=stop, n_threads=1)
    pr = info.value.partial_result
    assert pr.steps_done == 3
    pr.save(tmp_path / "p.npz")
    back = TrainResult.load(tmp_path / "p.npz")
    assert back.steps_done == 3 and bits(back.queries) == bits(pr.queries)
    assert bits(back.test_error) == bits(pr.test_error)


FIG1 = dict(quick=True, plot=False, seq_len=8, pre_steps=6, post_steps=5, post_batch=16, pre_batch=16, test_size=16,
            num_mix=6, test_every=2)


def test_figure1_round_trip(tmp_path):
    r = lpgx.experiments.figure1(out=tmp_path, n_threads=1, **FIG1)
    assert sorted(os.listdir(tmp_path)) == ["figure1.json", "figure1.npz"]
    back = Figure1Result.load(tmp_path)
    assert bits(back.base_centre_log_lik) == bits(r.base_centre_log_lik)
    assert bits(back.pretrain.test_steps) == bits(r.pretrain.test_steps)
    assert bits(back.pretrain.test_error) == bits(r.pretrain.test_error)
    assert back.post.keys() == r.post.keys()
    for name in r.post:
        for f in ("test_steps", "test_error", "track_steps", "tracked_log_lik", "queries", "mean_reward", "success"):
            assert bits(getattr(back.post[name], f)) == bits(getattr(r.post[name], f)), (name, f)
        assert back.post[name].steps_done == r.post[name].steps_done
    cfg = {k: v for k, v in back.config.items() if k != "seconds"}
    assert cfg == json.loads(json.dumps(r.config))
    assert back.summary() .keys() == r.summary().keys()
    # a second save over the first: still atomic, still loadable, no temp files
    back.save(tmp_path)
    assert leftovers(tmp_path) == [] and Figure1Result.load(tmp_path).post.keys() == r.post.keys()


def test_figure2_round_trip(tmp_path):
    r = lpgx.experiments.figure2(out=tmp_path, quick=True, plot=False, phases=2, phase_steps=4, eval_size=32,
                                 n_threads=1)
    back = Figure2Result.load(tmp_path)
    assert bits(back.steps) == bits(r.steps) and bits(back.log_lik) == bits(r.log_lik)
    assert back.config == json.loads(json.dumps(r.config))
    alpha = np.array([1e-30, 1e-3, 0.5])
    np.testing.assert_array_equal(back.cdf(alpha), r.cdf(alpha))
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------------------
# atomic writes
def _failing_savez(after_bytes):
    real = np.savez

    def savez(f, **arrays):
        real(f, **arrays)  # write the whole archive, then fail as if the disk filled up
        f.seek(after_bytes)
        f.truncate()
        raise OSError(28, "No space left on device (simulated)")
    return savez


@pytest.mark.parametrize("exc", [OSError, KeyboardInterrupt])
def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch, exc):
    path = tmp_path / "m.npz"
    old = model_with_extreme_weights(seed=1)
    old.save(path)
    before = path.read_bytes()
    new = model_with_extreme_weights(seed=2)

    real = np.savez

    def savez(f, **arrays):
        real(f, **arrays)
        f.seek(100)
        f.truncate()  # half an archive on disk ...
        if exc is OSError:
            raise OSError(28, "No space left on device (simulated)")
        raise KeyboardInterrupt  # ... or Ctrl-C mid-write
    monkeypatch.setattr(np, "savez", savez)
    with pytest.raises(exc):
        new.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and lpgx.LinearARModel.load(path) == old
    assert leftovers(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["m.npz"]


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez", _failing_savez(10))
    with pytest.raises(OSError):
        model_with_extreme_weights().save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_failed_train_result_and_artifact_writes(tmp_path, monkeypatch):
    r = _train_result_with_nans()
    r.save(tmp_path / "r.npz")
    before = (tmp_path / "r.npz").read_bytes()
    fig = Figure2Result({"phases": 1}, np.array([3]), np.array([[-1.0, -2.0]]))
    fig.save(tmp_path)
    fig_before = (tmp_path / "figure2.npz").read_bytes()
    monkeypatch.setattr(np, "savez", _failing_savez(50))
    with pytest.raises(OSError):
        r.save(tmp_path / "r.npz")
    with pytest.raises(OSError):
        Figure2Result({"phases": 1}, np.array([4]), np.array([[-3.0, -4.0]])).save(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "r.npz").read_bytes() == before
    assert (tmp_path / "figure2.npz").read_bytes() == fig_before
    assert bits(Figure2Result.load(tmp_path).log_lik) == bits(fig.log_lik)
    assert leftovers(tmp_path) == []


def test_new_files_get_the_usual_permissions(tmp_path):
    """mkstemp creates 0600 files; a saved model must be readable like any file the user
    writes (mode 0666 & ~umask), and an overwritten file keeps its mode."""
    old = os.umask(0o022)
    try:
        model_with_extreme_weights().save(tmp_path / "m.npz")
        assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "m.npz", 0o640)
        model_with_extreme_weights(seed=3).save(tmp_path / "m.npz")
        assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o640
        os.umask(0o077)
        model_with_extreme_weights().save(tmp_path / "p.npz")
        assert (tmp_path / "p.npz").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_concurrent_saves_leave_one_valid_file(tmp_path):
    models = [model_with_extreme_weights(seed=s) for s in range(6)]
    threads = [threading.Thread(target=lambda m=m: [m.save(tmp_path / "m.npz") for _ in range(5)]) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lpgx.LinearARModel.load(tmp_path / "m.npz") in models
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_folder(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o500)
    try:
        with pytest.raises(PermissionError):
            model_with_extreme_weights().save(d / "m.npz")
    finally:
        os.chmod(d, 0o700)
    assert os.listdir(d) == []


# ----------------------------------------------------------------------------------------
# damaged, foreign and incompatible files
@pytest.fixture
def saved(tmp_path):
    m = model_with_extreme_weights()
    m.save(tmp_path / "m.npz")
    return m, tmp_path / "m.npz"


def test_every_truncation_is_a_value_error(saved, tmp_path):
    m, path = saved
    raw = path.read_bytes()
    q = tmp_path / "t.npz"
    for n in range(len(raw)):
        q.write_bytes(raw[:n])
        with pytest.raises(ValueError):
            lpgx.LinearARModel.load(q)


def test_every_byte_flip_is_refused_or_harmless(saved, tmp_path):
    """A changed byte raises ValueError, or (zip timestamps, unused header fields) loads the
    very same model -- never a different model and never another exception type."""
    m, path = saved
    raw = path.read_bytes()
    q = tmp_path / "t.npz"
    refused = 0
    for i in range(len(raw)):
        for mask in (0x01, 0x80):
            b = bytearray(raw)
            b[i] ^= mask
            q.write_bytes(bytes(b))
            try:
                back = lpgx.LinearARModel.load(q)
            except ValueError:
                refused += 1
                continue
            assert back == m and bits(back.w) == bits(m.w), f"byte {i} ^ {mask:#x} loaded a different model"
    assert refused > len(raw)  # most bytes matter


def _rewrite(path, edit_meta=None, edit_arrays=None, drop_meta=False):
    """Rewrite an lpgx archive with valid zip CRCs but edited content (a deliberate tamper)."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    if not drop_meta:
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("edit, match", [
    (dict(edit_meta=lambda m: m.update(seq_len=m["seq_len"] + 1)), "checksum"),   # meta changed, CRCs valid
    (dict(edit_meta=lambda m: m.update(blocks=["bias"])), "checksum"),
    (dict(edit_arrays=lambda a: a["w"].__setitem__(0, 1.0)), "checksum"),
    (dict(edit_arrays=lambda a: a.update(extra=np.zeros(2))), "checksum"),
    (dict(edit_meta=lambda m: m.update(format_version=2)), "format version 2"),
    (dict(edit_meta=lambda m: m.update(kind="TrainResult")), "TrainResult"),
    (dict(edit_meta=lambda m: m.pop("sha256")), "checksum"),
    (dict(drop_meta=True), "no metadata"),
])
def test_deliberate_tampering_is_detected(saved, edit, match):
    m, path = saved
    _rewrite(path, **edit)
    with pytest.raises(ValueError, match=match):
        lpgx.LinearARModel.load(path)


def test_incompatible_format_version_with_valid_checksums(tmp_path, monkeypatch):
    monkeypatch.setattr(_io, "FORMAT_VERSION", 99)
    model_with_extreme_weights().save(tmp_path / "m.npz")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="format version 99 is not supported"):
        lpgx.LinearARModel.load(tmp_path / "m.npz")


def test_files_written_before_the_metadata_checksum_still_load(tmp_path):
    """Format-1 files from earlier lpgx versions have only the array checksum."""
    m = model_with_extreme_weights()
    meta = dict(m.config(), kind="LinearARModel", lpgx_version="0.1.0", format_version=1,
                sha256=_io.digest({"w": m.w}))
    with open(tmp_path / "old.npz", "wb") as f:
        np.savez(f, w=m.w, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    assert lpgx.LinearARModel.load(tmp_path / "old.npz") == m


def test_consistent_but_invalid_content_is_a_value_error(tmp_path):
    """A well-formed lpgx file whose content is not a valid model (crafted with good checksums)."""
    m = lpgx.LinearARModel(3, 4, 2)
    cases = {
        "short_w": ({"w": np.zeros(5)}, dict(m.config(), kind="LinearARModel")),
        "nan_w": ({"w": np.full(m.num_params, np.nan)}, dict(m.config(), kind="LinearARModel")),
        "no_w": ({"v": np.zeros(m.num_params)}, dict(m.config(), kind="LinearARModel")),
        "no_size": ({"w": np.zeros(m.num_params)}, {"kind": "LinearARModel", "seq_len": 4, "context_dim": 2,
                                                     "blocks": list(m.blocks)}),
        "bad_blocks": ({"w": np.zeros(m.num_params)}, dict(m.config(), kind="LinearARModel", blocks=["nope"])),
        "bad_size": ({"w": np.zeros(m.num_params)}, dict(m.config(), kind="LinearARModel", vocab_size=-3)),
        "w_int": ({"w": np.zeros(m.num_params, dtype=np.int64)}, dict(m.config(), kind="LinearARModel")),
    }
    for name, (arrays, meta) in cases.items():
        _io.save_npz(tmp_path / f"{name}.npz", arrays, meta)
        try:
            back = lpgx.LinearARModel.load(tmp_path / f"{name}.npz")
        except ValueError:
            continue
        assert name == "w_int" and back == m, name  # integer zeros are a valid w


@pytest.mark.parametrize("drop", ["queries", "seconds"])
def test_train_result_with_missing_fields_is_a_value_error(tmp_path, drop):
    r = _train_result_with_nans()
    arrays = {f: getattr(r, f) for f in ("test_steps", "test_error", "track_steps", "tracked_log_lik", "queries",
                                         "mean_reward", "success") if f != drop}
    meta = {"kind": "TrainResult", "config": {}, "seconds": 1.0, "steps_done": r.steps_done}
    meta.pop(drop, None)
    _io.save_npz(tmp_path / "r.npz", arrays, meta)
    with pytest.raises(ValueError):
        TrainResult.load(tmp_path / "r.npz")


@pytest.mark.parametrize("what", ["foreign_npz", "npy", "text", "empty", "pickle", "zip_without_npy", "directory",
                                  "model_as_train_result", "train_result_as_model", "figure2_as_figure1"])
def test_foreign_files_are_value_errors(tmp_path, what):
    p = tmp_path / "f.npz"
    load = lpgx.LinearARModel.load
    if what == "foreign_npz":
        np.savez(p, w=np.zeros(3))
    elif what == "npy":
        with open(p, "wb") as f:
            np.save(f, np.zeros(3))
    elif what == "text":
        p.write_text("hello\n")
    elif what == "empty":
        p.write_bytes(b"")
    elif what == "pickle":
        import pickle
        p.write_bytes(pickle.dumps({"w": [1.0]}))
    elif what == "zip_without_npy":
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("w.txt", "1 2 3")
    elif what == "directory":
        p.mkdir()
    elif what == "model_as_train_result":
        model_with_extreme_weights().save(p)
        load = TrainResult.load
    elif what == "train_result_as_model":
        _train_result_with_nans().save(p)
    elif what == "figure2_as_figure1":
        Figure2Result({"phases": 1}, np.array([3]), np.array([[-1.0]])).save(tmp_path)
        (tmp_path / "figure2.npz").rename(tmp_path / "figure1.npz")
        with pytest.raises(ValueError):
            Figure1Result.load(tmp_path)
        return
    with pytest.raises(ValueError, match=str(p.name)):
        load(p)


def test_missing_files_are_file_not_found(tmp_path):
    for load in (lpgx.LinearARModel.load, TrainResult.load):
        with pytest.raises(FileNotFoundError):
            load(tmp_path / "missing.npz")
    for cls in (Figure1Result, Figure2Result):
        with pytest.raises(FileNotFoundError):
            cls.load(tmp_path / "nowhere")
