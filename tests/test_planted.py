"""The planted toy pool (task_set=toy_planted), its pretrained tiny backbone and the planted check."""

import filecmp
import json
import os
import subprocess

import pytest
import yaml

from auxrun.config import DataConfig
from auxrun.data.sources import load_raw_splits
from auxrun.data.spec import load_task_spec
from auxrun.data.toy import N_TOPICS, build_lexicon, intensity_label, topic_group
from tests.conftest import REPO, compose

PLANTED = compose(["task_set=toy_planted"]).task_set


def test_every_planted_auxiliary_shares_its_primarys_format():
    """Related, unrelated and noise differ from the primary only in what carries the label."""
    assert set(PLANTED.planted) == set(PLANTED.primaries)
    for primary, roles in PLANTED.planted.items():
        p = load_task_spec(primary)
        for kind in ("related", "unrelated", "noise"):
            for aux in roles[kind]:
                a = load_task_spec(aux)
                assert aux in PLANTED.tasks
                assert (a.objective, a.input_fields) == (p.objective, p.input_fields), (primary, aux)


def _topic(words, lex):
    counts = [sum(w in set(t) for w in words) for t in lex.topics]
    return max(range(N_TOPICS), key=counts.__getitem__)  # two own-topic words, at most one distractor


def test_planted_rules(tmp_path):
    data = DataConfig(toy_dir=str(tmp_path), toy_seed=5, toy_scale=0.2)
    lex = build_lexicon(5)
    pos, neg = set(lex.positive), set(lex.negative)

    def polarity(text):
        words = text.split()
        return sum(w in pos for w in words) - sum(w in neg for w in words)

    def rows(task):
        return load_raw_splits(load_task_spec(task), data)["train"]

    grades = [e.label for e in rows("toy_intensity")]
    assert [intensity_label(d) for d in (-3, -2, -1, 1, 2, 3)] == [
        "strong_neg",
        "strong_neg",
        "neg",
        "pos",
        "strong_pos",
        "strong_pos",
    ]
    assert grades == [intensity_label(polarity(e.text_a)) for e in rows("toy_intensity")]
    assert len(set(grades)) == 4
    for e in rows("toy_pairtopic"):
        ta, tb = _topic(e.text_a.split(), lex), _topic(e.text_b.split(), lex)
        want = "same" if ta == tb else "group" if topic_group(ta) == topic_group(tb) else "other"
        assert e.label == want
    for task, rule in (("toy_pairpol", lambda k: int(k == 2)), ("toy_pairpolcount", lambda k: k)):
        labels = []
        for e in rows(task):
            labels.append(e.label)
            assert e.label == str(rule((polarity(e.text_a) > 0) + (polarity(e.text_b) > 0)))
        assert min(labels.count(v) for v in set(labels)) > len(labels) / (len(set(labels)) + 2)  # balanced
    for e in rows("toy_polartag"):
        assert e.label == ["POS" if w in pos else "NEG" if w in neg else "O" for w in e.tokens]
    noise = [int(e.label) for e in rows("toy_pairnoise")]
    assert 0.3 < sum(noise) / len(noise) < 0.7


def test_planted_primaries_decide_on_their_own_select_dev(tmp_path):
    """toy_planted: each primary's select_dev is its own 300-example split from the same rule and
    its train is kept whole; the toy pool (and any task without the split) still carves 10%."""
    from auxrun.data.pool import TaskPool
    from auxrun.validate import validate_run

    toy_dir = f"data.toy_dir={tmp_path / 'toy'}"
    for task_set, own in (("toy_planted", True), ("toy", False)):
        cfg = compose([f"task_set={task_set}", "primary=toy_sentiment", "data.toy_scale=0.2", toy_dir])
        assert cfg.data.held_out_select_dev is own
        raw = TaskPool.load(cfg, validate_run(cfg)).raw
        sent, aux = raw["toy_sentiment"], raw["toy_topic"]
        assert len(aux["select_dev"]) == round(0.1 * (len(aux["train"]) + len(aux["select_dev"])))
        if own:
            assert (len(sent["train"]), len(sent["select_dev"])) == (60, 60)  # 300 and 300 at scale 0.2
            assert not {e.text_a for e in sent["select_dev"]} <= {e.text_a for e in sent["train"]}
        else:
            assert (len(sent["train"]), len(sent["select_dev"])) == (54, 6)
    override = compose(["task_set=toy_planted", "data.held_out_select_dev=false"])
    assert override.data.held_out_select_dev is False  # the command line wins over the pool setting


def test_train_cap_keeps_the_first_examples_of_one_task(tmp_path):
    """data.train_cap={task: N} keeps that task's first N training examples and leaves the others;
    an unknown task, or a cap below 1, is a config error naming it."""
    from auxrun.data.pool import TaskPool
    from auxrun.errors import ConfigError
    from auxrun.validate import validate_run

    assert compose(["task_set=toy_planted"]).data.train_cap == {"toy_ner": 60}  # the pool's setting
    assert compose(["task_set=toy"]).data.train_cap == {}
    base = ["task_set=toy_planted", "primary=toy_ner", "data.toy_scale=0.2", f"data.toy_dir={tmp_path}"]
    full = TaskPool.load(cfg := compose([*base, "data.train_cap.toy_ner=1000"]), validate_run(cfg)).raw
    capped = TaskPool.load(cfg := compose([*base, "data.train_cap.toy_ner=7"]), validate_run(cfg)).raw
    assert [e.tokens for e in capped["toy_ner"]["train"]] == [e.tokens for e in full["toy_ner"]["train"][:7]]
    assert len(full["toy_ner"]["train"]) == 60
    assert capped["toy_ner"]["select_dev"] == full["toy_ner"]["select_dev"]  # the held-out split is whole
    assert len(capped["toy_pos"]["train"]) == len(full["toy_pos"]["train"])
    # the pool's cap on toy_ner stays harmless when a run narrows the set to tasks without it
    validate_run(
        compose(["task_set=toy_planted", "primary=toy_pos", "task_set.tasks=[toy_pos,toy_tagnoise]"])
    )
    for bad, msg in (
        ("+data.train_cap.toy_nr=7", "data.train_cap: unknown task 'toy_nr'; available tasks"),
        ("data.train_cap.toy_ner=0", "data.train_cap.toy_ner=0 is out of range"),
    ):
        with pytest.raises(ConfigError, match=msg):
            validate_run(compose([*base, bad]))


def test_a_split_added_to_a_toy_task_joins_its_folder_unchanged(tmp_path):
    """A toy folder written before a task listed select_dev gets exactly the file a fresh build
    writes, and the files already there are left as they were."""
    spec = load_task_spec("toy_ner")
    old, fresh = (
        DataConfig(toy_dir=str(tmp_path / "old"), toy_scale=0.2),
        DataConfig(toy_dir=str(tmp_path / "new"), toy_scale=0.2),
    )
    assert set(load_raw_splits(spec, old)) == {"train", "dev", "select_dev"}
    folder = tmp_path / "old" / spec.sources.local.dir
    (folder / "select_dev.txt").unlink()
    before = (folder / "train.txt").stat().st_mtime_ns
    splits = load_raw_splits(spec, old)
    load_raw_splits(spec, fresh)
    assert len(splits["select_dev"]) == 60
    assert (folder / "train.txt").stat().st_mtime_ns == before
    assert sorted(p.name for p in folder.iterdir()) == ["dev.txt", "select_dev.txt", "train.txt"]
    for f in ("train.txt", "dev.txt", "select_dev.txt"):
        assert filecmp.cmp(folder / f, tmp_path / "new" / spec.sources.local.dir / f, shallow=False)


def test_binomial_tail():
    from auxrun.reporting.planted import binom_tail

    assert binom_tail(15, 15) == pytest.approx(0.5**15)
    assert binom_tail(14, 15) == pytest.approx(16 / 2**15)
    assert binom_tail(0, 15) == pytest.approx(1.0)


def _run(tmp_path, method, sel, results=None):
    from auxrun.reporting.runs import Run

    roles = {"p": {"related": ["r"], "unrelated": ["u"], "noise": ["n"]}}
    config = {"method.name": method, "primary": "p"}
    return Run(tmp_path, config, results=results, selection=sel, planted=roles)


def test_the_planted_record_counts_a_tie_half_and_a_random_subset_as_chance(tmp_path):
    """One rule for recovery and chance (auxrun/reporting/planted.py): related above noise by the
    method's own scores, a tie one half; a related task selected against 1 - C(K-r,k)/C(K,k)."""
    from auxrun.reporting.planted import run_planted

    sel = {
        "candidates": ["r", "u", "n", "x"],
        "selected_tasks": ["r"],
        "scores": {"r": 0.2, "u": 0.5, "n": 0.1},
    }
    rec = run_planted(_run(tmp_path, "gradts_thres", sel))
    assert rec == {
        "related_selected": True,
        "noise_selected": False,
        "chance": pytest.approx(1 / 4),
        "above": 1.0,
        "scores": (("n", 0.1), ("r", 0.2), ("u", 0.5)),
    }
    tie = run_planted(_run(tmp_path, "gradts_thres", {**sel, "scores": {"r": 0.1, "n": 0.1}}))
    assert tie["above"] == 0.5
    two = run_planted(_run(tmp_path, "gradts_thres", {**sel, "selected_tasks": ["u", "x"], "scores": {}}))
    assert two["above"] is None and two["chance"] == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    # a baseline is not read as a selector; a method deciding while training is read once it trained
    assert run_planted(_run(tmp_path, "no_sel", sel)) is None
    assert run_planted(_run(tmp_path, "avil", {**sel, "scores": {}})) is None  # stage=select: no weights yet
    weights = {"task_weights": {"p": 0.2, "r": 0.2, "u": 0.3, "n": 0.25, "x": 0.05}}
    assert run_planted(_run(tmp_path, "avil", {**sel, "scores": {}}, weights))["above"] == 0.0


def test_seeds_with_identical_scores_are_one_trial_in_the_p_value(tmp_path):
    """Five seeds of a method that gives every seed the same scores (TextEmb reads inputs only) are
    one trial: p = 0.5, not 0.5**5; five seeds with five different rankings above noise give 0.5**5."""
    from auxrun.reporting.planted import planted_table

    sel = {"candidates": ["r", "u", "n"], "selected_tasks": ["r"], "scores": {"r": 0.2, "u": 0.5, "n": 0.1}}
    same = [_run(tmp_path, "textemb", sel) for _ in range(5)]
    varied = [_run(tmp_path, "tag", {**sel, "scores": {"r": 0.2 + i, "u": 0.5, "n": 0.1}}) for i in range(5)]
    _, rows = planted_table(same + varied)
    by = {(r[0], r[1]): r for r in rows}
    assert by[("textemb", "p")][6:] == ["1.00 (5, 1 distinct)", "0.50", "0.5"]
    assert by[("tag", "p")][6:] == ["1.00 (5)", "0.50", "0.031"]
    assert by[("textemb", "all")][8] == "0.5"


def test_task_scores_are_the_selection_s_scores_or_a_controller_s_final_weights(tmp_path):
    """Every selector writes ``scores``; avil and diw answer with results.json task_weights, and a
    stage=select run of them has none yet. Nothing else is read as a score (a kept share is not)."""
    sel = {"candidates": ["r", "u", "n"], "selected_tasks": ["r"], "scores": {"r": 0.2, "n": 0.1, "p": 9.0}}
    weights = {"task_weights": {"r": 0.3, "u": 0.3, "n": 0.4}}
    assert _run(tmp_path, "gradts_thres", sel, weights).task_scores() == {
        "r": 0.2,
        "n": 0.1,
    }  # candidates only
    assert _run(tmp_path, "fastmtl", {**sel, "scores": {"r": 0.8, "u": None, "n": 0.3}}).task_scores() == {
        "r": 0.8,
        "n": 0.3,
    }
    assert _run(tmp_path, "diw", sel, weights).task_scores() == {"r": 0.3, "u": 0.3, "n": 0.4}
    assert _run(tmp_path, "avil", {**sel, "scores": {}}).task_scores() == {}  # stage=select: not trained
    shares = {"p": {"kept": 5, "total": 5}, "r": {"kept": 30, "total": 100}, "n": {"kept": 10, "total": 100}}
    assert _run(tmp_path, "random_sampling", {**sel, "scores": {}, "instances": shares}).task_scores() == {}


def test_pretrained_backbone_is_deterministic_and_loads(tmp_path):
    from transformers import AutoModel, AutoTokenizer

    from auxrun.models.toy_pretrain import PretrainConfig, model_path

    cfg = PretrainConfig(
        hidden_size=16, num_heads=2, intermediate_size=32, sentences=96, epochs=1, batch_size=32
    )
    a, b = model_path(cfg, tmp_path / "a"), model_path(cfg, tmp_path / "b")
    assert a.name == b.name and a.name.startswith("toy-pretrained-")
    assert filecmp.cmp(a / "model.safetensors", b / "model.safetensors", shallow=False)
    assert model_path(cfg, tmp_path / "a") == a  # reused, not rebuilt
    other = model_path(PretrainConfig(**{**cfg.__dict__, "seed": 1}), tmp_path / "a")
    assert other != a and not filecmp.cmp(a / "model.safetensors", other / "model.safetensors", shallow=False)
    model, tok = AutoModel.from_pretrained(a), AutoTokenizer.from_pretrained(a)
    assert model.config.num_attention_heads == 2
    lex = build_lexicon(1234)
    enc = tok(lex.positive[0], lex.topics[0][0])
    assert tok.unk_token_id not in enc["input_ids"] and set(enc["token_type_ids"]) == {0, 1}


def test_planted_check_is_the_experiment_and_the_report(tmp_path):
    """The planted check: `auxrun -m experiment=toy_planted hardware=local_parallel` (here one cheap
    method, selection only, two primaries in parallel), then `auxrun-report DIR --experiment
    toy_planted`, whose planted score is read from each run's own selection.json."""
    from auxrun.reporting.planted import ranked_above

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    sweep = tmp_path / "sweep"
    cmd = ["auxrun", "-m", "experiment=toy_planted", "hardware=local_parallel", "method=gradts_thres"]
    cmd += ["primary=toy_sentiment,toy_pairpol", "seed=1", "stage=select", "quiet=true", "backbone=tiny"]
    cmd += [
        "data.toy_scale=0.05",
        "method.warmup_epochs=0",
        "method.figures=false",
        f"hydra.sweep.dir={sweep}",
    ]
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    above = {}
    for run in sorted(sweep.glob("*_toy_planted_gradts_thres_*")):
        sel = json.loads((run / "selection.json").read_text())
        roles = PLANTED.planted[sel["primary"]]
        assert sel["candidates"] == [*roles["related"], *roles["unrelated"], *roles["noise"]]  # its group
        above[sel["primary"]] = ranked_above(sel["scores"], roles["related"], roles["noise"])
    assert sorted(above) == ["toy_pairpol", "toy_sentiment"]
    r = subprocess.run(
        ["auxrun-report", str(sweep), "--experiment", "toy_planted", "--out", str(tmp_path / "rep")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    md = (tmp_path / "rep" / "report.md").read_text()
    for primary, value in above.items():
        assert f"| gradts_thres | {primary} | 1 | 1/1 | 1.00 | 1/1 | {value:.2f} (1) | 0.50 |" in md
    # the selection-only points are no failures: the report says why they have no results.json
    assert md.count("| selection only (stage=select) |") == 2 and "(no folder)" not in md


def test_weight_drift_reads_each_methods_increments(tmp_path):
    """avil's increment is alpha_rel - alpha_noise; diw's is the change of the weight difference; the
    90% epoch count is (1.2816 sd / mean)^2, and never for a drift <= 0."""
    from auxrun.reporting import weight_drift as wd
    from auxrun.reporting.report import main as report

    avil = {
        "primary": "p",
        "alpha_history": [{"p": 1.1, "r": 1.2, "n": 0.9}, {"p": 0.8, "r": 0.95, "n": 1.0}],
    }
    inc, own = wd.increments(avil, "r", "n")
    assert inc == pytest.approx([0.3, -0.05]) and own == pytest.approx([0.1, -0.2])
    diw = {
        "task_weight_history": [{"r": 0.5, "n": 0.5}, {"r": 0.6, "n": 0.4}, {"r": 0.55, "n": 0.45}],
        "single_task_score_history": [{"r": 70.0, "n": 60.0}, {"r": 80.0, "n": 85.0}],
    }
    inc, solo = wd.increments(diw, "r", "n")
    assert inc == pytest.approx([0.0, 0.2, -0.1]) and solo == [10.0, -5.0]
    assert wd.epochs_needed(0.1, 0.5) == pytest.approx((1.2816 * 5) ** 2)
    assert wd.epochs_needed(0.0, 0.5) == float("inf") and wd.epochs_needed(-0.1, 0.5) == float("inf")
    # in the report: one avil run of toy_sentiment on the planted pool
    run = tmp_path / "runs" / "avil-toy_sentiment-s1"
    run.mkdir(parents=True)
    hist = [{"toy_sentiment": 0.9, "toy_intensity": 1.0 + d, "toy_noise": 1.0} for d in (0.1, -0.1, 0.3)]
    results = {"method": "avil", "primary": "toy_sentiment", "seed": 1, "alpha_history": hist}
    (run / "results.json").write_text(json.dumps({**results, "main_metric": "accuracy", "best": {}}))
    cfg = {
        "method": {"name": "avil"},
        "primary": "toy_sentiment",
        "seed": 1,
        "task_set": {"planted": PLANTED.planted},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(cfg))))
    report([str(tmp_path), "--out", str(tmp_path / "rep")])
    md = (tmp_path / "rep" / "report.md").read_text()
    # mean 0.1, sd 0.2: (1.2816 * 0.2 / 0.1)^2 = 6.57 -> 7 epochs; at the upper bound 0.1 + 1.96 * 0.1155: 1
    row = "| avil | toy_sentiment | 3 | +0.1000 ± 0.1155 | 0.2000 | 7 | 1 | -0.100 (below 0 in 3/3 epochs) |"
    assert "## Weight drift" in md and row in md


def test_planted_group_narrows_the_pool_to_a_primarys_auxiliaries():
    """task_set.planted_group=true: the run's tasks are the primary, then its related, unrelated and
    noise auxiliaries; a primary without planted roles, or an auxiliary outside the set, is an error."""
    from auxrun.errors import ConfigError
    from auxrun.validate import planted_group, validate_run

    for primary, roles in PLANTED.planted.items():
        cfg = compose(["task_set=toy_planted", f"primary={primary}", "task_set.planted_group=true"])
        validate_run(cfg)
        assert cfg.task_set.tasks == [primary, *roles["related"], *roles["unrelated"], *roles["noise"]]
        assert cfg.task_set.tasks == planted_group(PLANTED.planted, primary)
        validate_run(cfg)  # again, as a resumed run does: unchanged
        assert len(cfg.task_set.tasks) == 4
    assert compose(["task_set=toy_planted"]).task_set.planted_group is False  # the pool lists all 12
    for overrides, msg in (
        (
            ["primary=toy_pos"],
            r"planted roles for primary='toy_pos'; task_set 'toy_planted' plants them for: \['toy_ner'",
        ),
        (
            ["primary=toy_ner", "task_set.tasks=[toy_ner,toy_pos,toy_tagnoise]"],
            r"the planted auxiliaries \['toy_polartag'\] of 'toy_ner' are not in task_set.tasks",
        ),
    ):
        with pytest.raises(ConfigError, match=msg):
            validate_run(compose(["task_set=toy_planted", "task_set.planted_group=true", *overrides]))


def test_methods_that_decide_while_training_and_baselines_say_so():
    """A method's class says what it is: a training controller (avil, diw: read by their final task
    weights) or a baseline (single_task, no_sel: no choice, so never read as a selector)."""
    from auxrun.methods.registry import baselines, decides_while_training, is_baseline

    assert [decides_while_training(m) for m in ("avil", "diw")] == [True, True]
    assert not any(decides_while_training(m) for m in ("gradts_thres", "autosem_p1", "fastmtl", "heu_len"))
    assert baselines() == ["single_task", "no_sel"]  # by rank: the primary alone, then every candidate
    assert not is_baseline("random_sampling") and not is_baseline("not_a_method")
