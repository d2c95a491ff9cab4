"""Every experiment file (conf/experiment/) composes, validates, and so does each point of
its sweep; a point naming a method that is not registered fails."""

import itertools

import pytest

from auxrun.paths import CONF_DIR
from tests.conftest import compose

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
PAPER_TABLES = {
    "gradts_table2",
    "gradts_table4",
    "gradts_table5",
    "gradts_table6",
    "gradts_table8",
    "gradts_table9",
    "autosem_table1",
    "avil_table2",
    "fastmtl_fig3_5",
}


def sweep_params(name: str) -> dict[str, list[str]]:
    """The experiment's grid as Hydra reads it (interpolations resolved, as at sweep time), each value
    as Hydra writes it in a job's overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from auxrun.hydra_setup import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"experiment={name}"], return_hydra_config=True)
    parser = OverridesParser.create()
    out = {}
    for k, val in cfg.hydra.sweeper.params.items():
        o = parser.parse_overrides([f"{k}={val}"])[0]
        out[k] = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]
    return out


def sweep_points(name: str) -> list[list[str]]:
    """The sweep's points without the seed (composition does not depend on it)."""
    params = {k: v for k, v in sweep_params(name).items() if k != "seed"}
    keys = list(params)
    return [[f"{k}={v}" for k, v in zip(keys, vals)] for vals in itertools.product(*params.values())]


def test_the_issue_s_tables_all_have_a_file():
    assert PAPER_TABLES | {"toy_planted"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_every_point_validates(name):
    from auxrun.methods.registry import METHODS, load_all
    from auxrun.validate import validate_run

    load_all()
    base = compose([f"experiment={name}"])  # the file alone, with the group's defaults
    validate_run(base)
    points = sweep_points(name)
    assert points, f"{name} sweeps nothing"
    for point in points:
        method = next((o.split("=", 1)[1] for o in point if o.startswith("method=")), base.method.name)
        assert method in METHODS, f"{name}: method '{method}' is not registered; known: {sorted(METHODS)}"
        cfg = compose([f"experiment={name}", *point])
        validate_run(cfg)
        for o in point:
            key, value = o.split("=", 1)
            node = cfg
            for part in key.split("."):
                node = getattr(node, part)
            got = node.name if hasattr(node, "name") and not isinstance(node, str | list) else node
            got = "[" + ",".join(got) + "]" if isinstance(got, list) else str(got)
            assert got == value, (name, o, got)


def test_experiment_settings_and_the_command_line_wins():
    cfg = compose(["experiment=avil_table2"])
    assert (cfg.task_set.name, cfg.backbone.name, cfg.train.lr, cfg.train.batch_size) == (
        "superglue5",
        "roberta_base",
        5e-6,
        8,
    )
    assert compose(["experiment=avil_table2", "train.lr=1e-5"]).train.lr == 1e-5
    cfg = compose(["experiment=gradts_table8", "backbone=roberta_large"])
    assert cfg.backbone.name == "roberta_large" and cfg.task_set.tasks == [
        "cola",
        "mrpc",
        "qnli",
        "rte",
        "sst2",
        "wnli",
    ]
    # an experiment keeps the per-task-set method settings (setting/toy_autosem.yaml)
    assert compose(["experiment=toy_planted", "method=autosem"]).method.rounds == 100
    planted = compose(["experiment=toy_planted", "method=gradts_thres"])
    assert (planted.task_set.name, planted.backbone.name, planted.method.warmup_epochs) == (
        "toy_planted",
        "tiny_planted",
        10,
    )
    assert planted.data.held_out_select_dev is True
    assert planted.task_set.planted_group is True  # each run trains its primary's planted group
    diw = compose(["experiment=toy_planted", "method=diw"])
    assert (diw.train.epochs, planted.train.epochs) == (10, 3)  # setting/toy_planted_diw.yaml


def test_fastmtl_figures_flat_lines_have_the_paper_s_settings():
    """Figures 3-5: ST-DNN is the primary alone for the samplers' 5 fine-tuning epochs; MT-DNN trains
    every task, then fine-tunes like the samplers (setting/fastmtl8_<baseline>.yaml)."""
    st = compose(["experiment=fastmtl_fig3_5_baselines", "method=single_task"]).train
    mt = compose(["experiment=fastmtl_fig3_5_baselines", "method=no_sel"]).train
    fast = compose(["experiment=fastmtl_fig3_5", "method=fastmtl"]).train
    assert (st.epochs, st.finetune_primary_epochs) == (5, 0)
    assert (mt.epochs, mt.finetune_primary_epochs) == (fast.epochs, fast.finetune_primary_epochs) == (3, 5)


def test_sweep_grid_is_hydra_s_own(tmp_path):
    """The grid lives in hydra.sweeper.params, so Hydra merges it with the command line."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=["experiment=gradts_table2"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params.primary == "cola,mrpc,mnli,qnli,qqp,rte,sst2,wnli"
    assert sweep_params("toy_planted")["seed"] == ["1", "2", "3", "4", "5"]


def _setting_points() -> list[tuple[str, str]]:
    """(task_set, method) for every setting/<task_set>_<method>.yaml."""
    task_sets = sorted((p.stem for p in (CONF_DIR / "task_set").glob("*.yaml")), key=len, reverse=True)
    methods = sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml") if not p.stem.endswith("schema"))
    points = []
    for f in sorted((CONF_DIR / "setting").glob("*.yaml")):
        ts = next(t for t in task_sets if f.stem.startswith(t + "_") and f.stem[len(t) + 1 :] in methods)
        points.append((ts, f.stem[len(ts) + 1 :]))
    return points


@pytest.mark.parametrize(("task_set", "method"), _setting_points())
def test_every_setting_file_composes_with_its_pool_and_method(task_set, method):
    """A setting names keys its method has (a misnamed key would break every run of that pair)."""
    from auxrun.validate import validate_run

    cfg = compose([f"task_set={task_set}", f"method={method}"])
    validate_run(cfg)
    assert (cfg.task_set.name, cfg.method.name) == (task_set, method)
