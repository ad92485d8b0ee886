import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

import twin
from twin import SimulationError, get_twin


def _uniform(t, n, seed=0):
    bounds = t.input_bounds()
    return np.random.default_rng(seed).uniform(bounds[:, 0], bounds[:, 1], size=(n, len(bounds)))


def test_catalogue_has_every_required_twin():
    names = set(twin.twin_names())
    groups = {}
    for name in names:
        groups.setdefault(name.split("_")[0], []).append(name)
    assert len([n for n in names if n.startswith("feynman_") and "bonus" not in n]) == 100
    assert len([n for n in names if n.startswith("feynman_bonus_")]) == 20
    assert len([n for n in names if n.startswith("odebench_")]) == 63
    assert len([n for n in names if n.startswith("strogatz_")]) == 7
    required = {
        "relativistic_velocity_addition", "driven_oscillator_resonance", "rlc_current_amplitude",
        "rabi_line_shape", "damped_pendulum", "driven_damped_oscillator", "driven_pendulum", "duffing",
        "van_der_pol", "lotka_volterra", "lorenz", "kepler", "projectile_drag", "series_rlc", "sir",
        "coupled_oscillators", "mathieu", "heat_lattice", "wave_lattice", "klein_gordon_lattice",
        "burgers_lattice",
    }
    assert required <= names


def test_every_catalogue_twin_simulates():
    for t in twin.all_twins():
        if t.kind == "algebraic":
            data = t.simulate(_uniform(t, 64), drop_invalid=True)
            assert data.y.shape[0] + data.meta["dropped"] == 64
            assert np.isfinite(data.y).all()
        elif t.kind == "ode":
            data = t.simulate(n_steps=min(t.n_steps, 400), t_end=t.t_end * min(1.0, 400 / t.n_steps))
            assert np.isfinite(data.arrays["states"]).all(), t.name
        elif t.kind == "pde":
            data = t.simulate(runs=1)
            assert data.kind == "snapshots" and all(np.isfinite(data.arrays[f]).all() for f in data.output_names)
            assert data.arrays[t.fields[0]].shape == (1, t.grid.n_times, *t.grid.points[::-1]), t.name
        else:
            data = t.simulate(np.array([[0.5, 0.1], [1.5, 0.2]]), n_steps=200, t_end=t.t_end / 10)
            assert data.arrays["u"].shape == (2, 201, t.sites)


def test_summaries_never_leak_the_ground_truth():
    summary = get_twin("relativistic_velocity_addition").summary()
    assert "ground_truth" not in summary and "u*v" not in str(summary)


def test_aliases_and_unknown_names():
    assert get_twin("Coulomb's law").name == "coulomb_force"
    assert get_twin("klein-gordon").name == "klein_gordon_lattice"
    with pytest.raises(KeyError, match="did you mean"):
        get_twin("lorentz")


@pytest.mark.parametrize("name, t_end", [("damped_pendulum", 10.0), ("lotka_volterra", 20.0),
                                         ("lorenz", 2.0), ("kepler", 10.0), ("odebench_37", 10.0),
                                         ("strogatz_glider", 5.0)])
def test_ode_twins_agree_with_solve_ivp(name, t_end):
    t = get_twin(name)
    x0 = np.array(t.reference_x0[:1])
    data = t.simulate(x0, t_end=t_end, n_steps=4000)
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in t.default_params.items()}

    def rhs(time, state):
        s = torch.as_tensor(state, dtype=torch.float64)[None, :]
        return t.vector_field(torch.tensor(time, dtype=torch.float64), s, params)[0].numpy()

    reference = solve_ivp(rhs, (0, t_end), x0[0], t_eval=data.arrays["t"], rtol=1e-10, atol=1e-12)
    scale = np.abs(reference.y).max()
    np.testing.assert_allclose(data.arrays["states"][0], reference.y.T, atol=1e-5 * scale)


@pytest.mark.parametrize("name, params, invariant", [
    ("harmonic_oscillator", {}, "energy"),
    ("kepler", {}, "energy"),
    ("kepler", {}, "angular_momentum"),
    ("coupled_oscillators", {}, "energy"),
    ("damped_pendulum", {"gamma": 0.0}, "energy"),
    ("lotka_volterra", {}, "lyapunov"),
    ("sir", {}, "population"),
])
def test_conservative_systems_conserve(name, params, invariant):
    t = get_twin(name)
    data = t.simulate(params=params)
    values = t.invariant_values(data.arrays["states"], params)[invariant]
    drift = np.abs(values - values[:, :1]).max() / (np.abs(values[:, :1]).max() + 1e-12)
    assert drift < 1e-5, f"{name} {invariant} drifted by {drift:.2e}"


def test_damping_dissipates_energy():
    t = get_twin("damped_pendulum")
    data = t.simulate(np.array([[1.0, 0.0], [0.5, 0.5]]), params={"gamma": 0.3})
    energy = t.invariant_values(data.arrays["states"])["energy"]
    assert (energy[:, -1] < energy[:, 0] - 0.1).all()


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_klein_gordon_lattice_reproduces_its_dispersion_relation(noise):
    """The measured ω(k) (tools.derived.dispersion_table: spectral peak, then a sinusoid fit) matches the
    lattice law to the RK4 integrator's phase error; the peak bin alone was off by up to 1.8·10⁻³."""
    from tools.derived import dispersion_table

    t = get_twin("klein_gordon_lattice")
    p = t.default_params
    k_modes = t.lattice_wavenumbers(p["a"])[[0, 3, 10, 20, 31]]
    table = dispersion_table(t.simulate(np.column_stack([k_modes, np.full(5, 0.1)]), noise=noise, seed=0))
    k, measured = table.arrays["X"][:, 0], table.arrays["y"][:, 0]
    expected = np.sqrt(p["m"] ** 2 + 4 * p["c"] ** 2 / p["a"] ** 2 * np.sin(k * p["a"] / 2) ** 2)
    np.testing.assert_allclose(measured, expected, rtol=5e-5)


def test_ode_trajectories_are_differentiable_in_parameters():
    t = get_twin("driven_damped_oscillator")
    x0 = torch.tensor([[0.5, 0.0]], dtype=torch.float64)
    grid = torch.linspace(0, 5, 501, dtype=torch.float64)
    gamma = torch.tensor(0.15, dtype=torch.float64, requires_grad=True)
    params = dict(t.default_params) | {"gamma": gamma}
    t.trajectories(x0, grid, params)[0, -1, 0].backward()
    eps = 1e-6

    def final_x(g):
        return float(t.trajectories(x0, grid, dict(t.default_params) | {"gamma": g})[0, -1, 0])

    numeric = (final_x(0.15 + eps) - final_x(0.15 - eps)) / (2 * eps)
    assert abs(float(gamma.grad) - numeric) < 1e-6


def test_per_trajectory_parameters():
    t = get_twin("driven_damped_oscillator")
    x0 = np.zeros((3, 2))
    data = t.simulate(x0, params={"Omega": [1.0, 2.0, 3.0]})
    amplitudes = np.abs(data.arrays["states"][:, -500:, 0]).max(axis=1)
    assert amplitudes[1] > amplitudes[0] and amplitudes[1] > amplitudes[2]


def test_noise_is_seeded_and_relative_to_rms():
    t = get_twin("relativistic_velocity_addition")
    X = _uniform(t, 5000)
    clean = t.simulate(X).y
    a = t.simulate(X, noise=0.01, seed=3).y
    b = t.simulate(X, noise=0.01, seed=3).y
    c = t.simulate(X, noise=0.01, seed=4).y
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    ratio = np.std(a - clean) / np.sqrt(np.mean(clean**2))
    assert 0.009 < ratio < 0.011
    relative = t.simulate(X, noise=0.05, noise_model="multiplicative", seed=1).y / clean
    assert 0.045 < np.std(relative) < 0.055


def test_diverging_simulation_raises_a_clear_error():
    blow_up = twin.from_ode({"x": "r*x**2"}, {"x": (1.0, 1.0)}, params={"r": 1.0}, name="blowup", t_end=2.0)
    with pytest.raises(SimulationError, match="blowup.*'r': 1.0"):
        blow_up.simulate()
    undefined = twin.from_expression("sqrt(x)", {"x": (-1.0, 1.0)}, name="root")
    with pytest.raises(SimulationError, match="root"):
        undefined.simulate(np.array([[-0.5], [0.5]]))
    assert undefined.simulate(np.array([[-0.5], [0.5]]), drop_invalid=True).meta["dropped"] == 1


def test_custom_twins_from_text():
    law = twin.from_expression("k*x**2", {"x": (0, 2)}, params={"k": 3.0}, name="spring_energy")
    assert law.simulate(np.array([[2.0]])).y[0, 0] == pytest.approx(12.0)
    assert law.simulate(np.array([[2.0]]), params={"k": 1.0}).y[0, 0] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="no parameter 'q'"):
        law.simulate(np.array([[2.0]]), params={"q": 1.0})
    with pytest.raises(ValueError, match="do not appear"):
        twin.from_expression("k", {"x": (0, 1)}, params={"k": 1.0})
    with pytest.raises(ValueError, match="not allowed"):
        twin.from_expression("x.real", {"x": (0, 1)})
    oscillator = twin.from_ode({"x": "v", "v": "-w**2*x"}, {"x": (1, 1), "v": (0, 0)}, params={"w": 2.0})
    states = oscillator.simulate(t_end=np.pi, n_steps=2000).arrays["states"]
    assert states[0, -1, 0] == pytest.approx(1.0, abs=1e-6)  # one full period of cos(2t)


def test_dataset_round_trip_and_tamper_detection(tmp_path):
    data = get_twin("lorenz").simulate(n_steps=100, t_end=1.0, noise=0.01, seed=7)
    path = data.save(tmp_path, "lorenz")
    loaded = twin.Dataset.load(path)
    assert loaded.content_hash == data.content_hash
    np.testing.assert_array_equal(loaded.arrays["states"], data.arrays["states"])
    arrays = dict(loaded.arrays)
    arrays["states"] = arrays["states"] + 1e-9
    np.savez(tmp_path / "lorenz.npz", **arrays)
    with pytest.raises(ValueError, match="altered"):
        twin.Dataset.load(path)


def test_device_auto_resolves():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert twin.resolve_device("auto").type == expected


def test_field_twins_are_differentiable_in_parameters():
    t = get_twin("klein_gordon_lattice")
    x = torch.arange(t.sites, dtype=torch.float64) * 0.1
    u0 = torch.cat([torch.cos(2 * np.pi * 3 / (t.sites * 0.1) * x)[None, :], torch.zeros(1, t.sites, dtype=torch.float64)], dim=1)
    grid = torch.linspace(0, 2, 201, dtype=torch.float64)
    mass = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    t.evolve(u0, grid, {"c": 1.0, "m": mass, "a": 0.1})[0, -1, 0].backward()
    assert mass.grad is not None and torch.isfinite(mass.grad) and float(mass.grad) != 0.0
