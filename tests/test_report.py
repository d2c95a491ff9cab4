"""auxrun-report: results.json files of a sweep as one comparison table."""

import json

import pytest

from auxrun.reporting.report import main


def _result(folder, method, seed, acc, pool=("a", "b")):
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(
        json.dumps(
            {
                "method": method,
                "primary": "a",
                "task_set": "toy",
                "pool": list(pool),
                "backbone": "tiny",
                "seed": seed,
                "main_metric": "accuracy",
                "best": {"dev": {"accuracy": acc}},
                "cost": {"select": {"wall_s": 1.0}, "train": {"wall_s": 2.0 * seed}},
            }
        )
    )


def test_markdown_table_mean_sd_over_seeds(tmp_path, capsys):
    _result(tmp_path / "0", "no_sel", 1, 80.0)
    _result(tmp_path / "1", "no_sel", 2, 90.0)
    _result(tmp_path / "2", "single_task", 1, 70.0)
    _result(tmp_path / "3", "single_task", 1, 60.0, pool=("a",))  # another pool: its own row
    main([str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| task_set | primary | backbone | metric | no_sel | single_task |"
    assert out[2] == "| toy (1 tasks) | a | tiny | accuracy |  | 60.00 |"
    assert out[3] == "| toy (2 tasks) | a | tiny | accuracy | 85.00 ± 7.07 (n=2) | 70.00 |"
    assert out[4] == "|  | mean wall time (s) |  |  | 4.0 | 3.0 |"


def test_csv_and_empty_folder(tmp_path, capsys):
    _result(tmp_path / "0", "no_sel", 1, 80.0)
    main([str(tmp_path), "--format", "csv"])
    assert capsys.readouterr().out.splitlines()[1] == "toy (2 tasks),a,tiny,accuracy,80.00"
    with pytest.raises(SystemExit):
        main([str(tmp_path / "0" / "nothing")])
