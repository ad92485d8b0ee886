import json
import re

import numpy as np
import pytest

from twin import CsvError, from_csv


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_measurements(tmp_path):
    path = _write(tmp_path, "x,z,y\n1,2,3\n2,3,5\n3,5,8\n4,4,8\n")
    t = from_csv(path, target="y")
    assert t.kind == "data" and t.input_names == ["x", "z"]
    data = t.simulate()
    np.testing.assert_array_equal(data.y[:, 0], [3, 5, 8, 8])
    assert from_csv(path, target="y", inputs=["x"]).input_names == ["x"]
    with pytest.raises(ValueError, match="cannot simulate new inputs"):
        t.simulate(np.zeros((1, 2)))


@pytest.mark.parametrize("text, fragment", [
    ("x,z\n1,2\n2,3\n3,4\n", "no target column 'y'"),
    ("x,y\n1,2\nabc,3\n3,4\n", "column 'x' row 3 holds 'abc'"),
    ("x,y\n\n\n", "no data rows"),
    ("x,x,y\n1,2,3\n4,5,6\n7,8,9\n", "duplicate column names ['x']"),
    ("x,y\n1,2\n2,nan\n3,4\n", "not a finite number"),
    ("x,y\n1,2\n2,inf\n3,4\n", "not a finite number"),
    ("a,b,c,y\n1,2,3,4\n5,6,7,8\n", "2 rows for 3 inputs"),
    ("", "empty"),
])
def test_bad_csvs_get_one_line_errors(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(CsvError) as info:
        from_csv(path, target="y")
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_inputs(tmp_path):
    with pytest.raises(CsvError, match="does not exist"):
        from_csv(tmp_path / "nope.csv", target="y")
    path = _write(tmp_path, "x,y\n1,2\n2,3\n3,4\n")
    with pytest.raises(CsvError, match="not found"):
        from_csv(path, target="y", inputs=["q"])
    with pytest.raises(CsvError, match="cannot also be an input"):
        from_csv(path, target="y", inputs=["x", "y"])


def test_header_units_name_the_column_and_reach_the_dataset(tmp_path):
    from twin.tabular import from_csv, split_header

    assert split_header("P [Pa]") == ("P", "Pa") and split_header("v (m/s)") == ("v", "m/s")
    assert split_header("x(t)") == ("x(t)", "")  # no space before the parenthesis: part of the name
    path = tmp_path / "gas.csv"
    path.write_text("n [mol],T [K],V,P (Pa)\n" + "\n".join(f"{i},{300 + i},{1 + i},{8.3 * i}" for i in range(1, 9)))
    twin = from_csv(path, "P", units={"V": "m^3"})
    assert twin.input_names == ["n", "T", "V"] and twin.data.units == {"n": "mol", "T": "K", "V": "m^3", "P": "Pa"}
    assert from_csv(path, "P (Pa)").outputs[0].unit == "Pa"


def test_a_utf8_bom_and_a_one_column_file_read_the_same_in_the_cli_and_the_lab(tmp_path):
    from typer.testing import CliRunner

    from agent import check_csv
    from agent.cli import app

    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffx,y\n".encode() + "".join(f"{i},{2 * i}\n" for i in range(1, 13)).encode())
    assert check_csv(str(bom)) == {"x": "", "y": ""}
    result = CliRunner().invoke(app, ["discover", "--csv", str(bom), "--target", "y", "--time-budget", "2", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["formula"] == "2*x"
    one = tmp_path / "one.csv"
    one.write_text("y\n1\n2\n3\n")
    said = "need a header row with at least two column names (inputs and a target), got ['y']"
    with pytest.raises(ValueError, match=re.escape(said)):
        check_csv(str(one))
    result = CliRunner().invoke(app, ["discover", "--csv", str(one), "--target", "y"])
    assert result.exit_code != 0 and said in result.output
