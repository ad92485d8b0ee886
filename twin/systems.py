"""The named physical systems of the catalogue: closed-form laws and ODE systems, as data.

Expressions are text read through the safe parser, the same path a user's custom twin takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.algebraic import ExpressionTwin
from twin.core import Parameter, Variable
from twin.expressions import parse_expression
from twin.ode import OdeTwin


@dataclass(frozen=True)
class LawSpec:
    name: str
    description: str
    output: Variable
    formula: str
    inputs: tuple[Variable, ...]
    parameters: tuple[Parameter, ...] = ()
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def build(self) -> ExpressionTwin:
        names = [v.name for v in self.inputs] + [p.name for p in self.parameters]
        return ExpressionTwin(
            name=self.name, description=self.description, kind="algebraic",
            inputs=list(self.inputs), outputs=[self.output], parameters=list(self.parameters),
            expressions={self.output.name: parse_expression(self.formula, names)},
            aliases=self.aliases, keywords=self.keywords, group="law",
        )


@dataclass(frozen=True)
class OdeSpec:
    name: str
    description: str
    states: tuple[Variable, ...]
    equations: tuple[str, ...]
    parameters: tuple[Parameter, ...] = ()
    invariants: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    t_end: float = 10.0
    n_steps: int = 1000
    group: str = "ode"
    launch_inputs: tuple[Variable, ...] = ()
    launch: dict[str, str] = field(default_factory=dict)

    def build(self) -> OdeTwin:
        names = [v.name for v in self.states] + [p.name for p in self.parameters] + ["t"]
        midpoint = [(v.low + v.high) / 2 for v in self.states]
        quarter = [v.low + (v.high - v.low) / 4 for v in self.states]
        return OdeTwin(
            name=self.name, description=self.description, kind="ode",
            inputs=list(self.states), outputs=list(self.states), parameters=list(self.parameters),
            rhs={v.name: parse_expression(eq, names) for v, eq in zip(self.states, self.equations)},
            invariants={k: parse_expression(e, names) for k, e in self.invariants.items()},
            aliases=self.aliases, keywords=self.keywords, group=self.group,
            t_end=self.t_end, n_steps=self.n_steps, reference_x0=[midpoint, quarter],
            launch_inputs=list(self.launch_inputs),
            launch={k: parse_expression(e, [v.name for v in self.launch_inputs]) for k, e in self.launch.items()},
        )


V, P = Variable, Parameter

LAWS: tuple[LawSpec, ...] = (
    LawSpec(
        "relativistic_velocity_addition",
        "relativistic composition of collinear velocities in units of c: w = (u+v)/(1+uv)",
        V("w", "c"), "(u + v)/(1 + u*v)", (V("u", "c", -0.9, 0.9), V("v", "c", -0.9, 0.9)),
        aliases=("velocity addition", "relativistic velocity addition", "einstein velocity addition"),
        keywords=("relativistic", "relativity", "velocity", "addition", "special relativity"),
    ),
    LawSpec(
        "driven_oscillator_resonance",
        "steady-state amplitude of a driven damped oscillator: A(ω) = F0/√((ω0²−ω²)² + (γω)²)",
        V("A", "m"), "F0/sqrt((omega0**2 - omega**2)**2 + (gamma*omega)**2)",
        (V("omega", "rad/s", 0.1, 4.0, "drive frequency"),),
        (P("F0", 1.0, "N/kg", 0.1, 10.0), P("omega0", 2.0, "rad/s", 0.5, 4.0), P("gamma", 0.15, "1/s", 0.01, 2.0)),
        aliases=("resonance curve", "driven oscillator resonance", "driven oscillator"),
        keywords=("resonance", "driven", "oscillator", "amplitude", "sharp", "quality factor"),
    ),
    LawSpec(
        "rlc_current_amplitude",
        "current amplitude of a driven series RLC circuit: I(ω) = V0/√(R² + (ωL − 1/(ωC))²)",
        V("I", "A"), "V0/sqrt(R**2 + (omega*L - 1/(omega*C))**2)",
        (V("omega", "rad/s", 0.2, 6.0, "drive frequency"),),
        (P("V0", 1.0, "V", 0.1, 10.0), P("R", 0.5, "ohm", 0.05, 5.0), P("L", 1.0, "H", 0.1, 5.0),
         P("C", 0.25, "F", 0.01, 1.0)),
        aliases=("rlc resonance", "rlc circuit", "series rlc current"),
        keywords=("rlc", "circuit", "current", "resonance", "inductor", "capacitor"),
    ),
    LawSpec(
        "rabi_line_shape",
        "Rabi line shape: transition probability after time t at detuning δ",
        V("prob", ""), "Omega**2/(Omega**2 + delta**2)*sin(sqrt(Omega**2 + delta**2)*t_pulse/2)**2",
        (V("delta", "rad/s", -5.0, 5.0, "detuning"),),
        (P("Omega", 1.0, "rad/s", 0.1, 5.0), P("t_pulse", 3.141592653589793, "s", 0.1, 10.0)),
        aliases=("rabi", "rabi oscillation", "line shape"),
        keywords=("rabi", "two-level", "detuning", "spectroscopy", "line shape"),
    ),
    LawSpec(
        "coulomb_force",
        "Coulomb force between two signed point charges (charges in µC): F = k_e·q1·q2/r²",
        V("F", "N"), "k_e*q1*q2/r**2",
        (V("q1", "uC", -5.0, 5.0), V("q2", "uC", -5.0, 5.0), V("r", "m", 0.05, 1.0)),
        (P("k_e", 8.9875517923e-3, "N m^2/uC^2"),),
        aliases=("coulomb", "coulomb's law", "coulomb force", "electrostatic force"),
        keywords=("coulomb", "charge", "charges", "electrostatic", "electric force"),
    ),
    LawSpec(
        "pendulum_period",
        "small-amplitude period of a simple pendulum: T = 2π√(L/g)",
        V("T", "s"), "2*pi*sqrt(L/g)", (V("L", "m", 0.1, 5.0, "length"),), (P("g", 9.81, "m/s^2"),),
        aliases=("pendulum period", "period of a pendulum", "simple pendulum"),
        keywords=("pendulum", "period", "length"),
    ),
    LawSpec(
        "newton_gravitation",
        "Newton's law of universal gravitation at Earth–Moon magnitudes: F = G·m1·m2/r²",
        V("F", "N"), "G*m1*m2/r**2",
        (V("m1", "kg", 1e22, 1e25), V("m2", "kg", 1e22, 1e25), V("r", "m", 1e8, 1e9)),
        (P("G", 6.674e-11, "m^3/(kg s^2)"),),
        aliases=("newton's law of gravitation", "newton's law of universal gravitation", "law of gravitation",
                 "universal gravitation", "law of universal gravitation", "gravitational force", "newtonian gravity",
                 "gravitation"),
        keywords=("gravity", "gravitation", "gravitational", "masses"),
    ),
    LawSpec(
        "ohms_law",
        "Ohm's law for a resistor: V = I·R",
        V("V", "V"), "I*R", (V("I", "A", 0.1, 5.0, "current"), V("R", "ohm", 1.0, 100.0, "resistance")),
        aliases=("ohm's law", "ohms law", "ohm law"),
        keywords=("resistor", "resistance", "voltage"),
    ),
    LawSpec(
        "stefan_boltzmann",
        "Stefan–Boltzmann law: power radiated by a black body, P = σ·A·T⁴",
        V("P", "W"), "sigma*A*T**4", (V("A", "m^2", 0.1, 2.0, "area"), V("T", "K", 200.0, 2000.0, "temperature")),
        (P("sigma", 5.670374419e-8, "W/(m^2 K^4)"),),
        aliases=("stefan-boltzmann law", "stefan-boltzmann", "stefan boltzmann", "stefan's law",
                 "radiated power of a black body"),
        keywords=("radiated", "thermal radiation"),
    ),
    LawSpec(
        "de_broglie_wavelength",
        "de Broglie wavelength of a particle: λ = h/(m·v)",
        V("wavelength", "m"), "h/(m*v)",
        (V("m", "kg", 9.1e-31, 1.7e-27, "mass"), V("v", "m/s", 1e3, 1e6, "speed")),
        (P("h", 6.62607015e-34, "J s"),),
        aliases=("de broglie", "de broglie wavelength", "matter wave", "matter wavelength"),
        keywords=("broglie",),
    ),
    LawSpec(
        "lorentz_factor",
        "Lorentz factor of special relativity: γ = 1/√(1 − v²/c²)",
        V("gamma", ""), "1/sqrt(1 - v**2/c**2)", (V("v", "m/s", 0.0, 2.9e8, "speed"),),
        (P("c", 299792458.0, "m/s"),),
        aliases=("lorentz factor", "time dilation factor", "time dilation"),
        keywords=("dilation", "lorentz"),
    ),
    LawSpec(
        "radioactive_decay",
        "radioactive decay: N = N0·exp(−λ·t)",
        V("N", ""), "N0*exp(-decay_rate*t)", (V("t", "s", 0.0, 10.0, "time"),),
        (P("N0", 1000.0, ""), P("decay_rate", 0.3, "1/s")),
        aliases=("radioactive decay", "exponential decay", "decay law", "law of radioactive decay", "half-life"),
        keywords=("decay", "radioactive", "nuclei"),
    ),
)

ODES: tuple[OdeSpec, ...] = (
    OdeSpec(
        "damped_pendulum", "pendulum with linear damping: θ'' = −(g/L)·sin θ − γ·θ'",
        (V("theta", "rad", -1.5, 1.5), V("omega", "rad/s", -1.0, 1.0)),
        ("omega", "-(g/L)*sin(theta) - gamma*omega"),
        (P("g", 9.81, "m/s^2"), P("L", 1.0, "m", 0.1, 5.0, "length"),
         P("gamma", 0.2, "1/s", 0.0, 2.0, "damping rate")),
        invariants={"energy": "omega**2/2 - (g/L)*cos(theta)"},
        aliases=("pendulum", "damped pendulum"), keywords=("pendulum", "damping", "swing"),
        launch_inputs=(V("A", "rad", 0.05, 1.5, "amplitude, released from rest"),), launch={"theta": "A", "omega": "0"},
    ),
    OdeSpec(
        "driven_damped_oscillator", "x'' = −ω0²·x − γ·x' + F·cos(Ω·t)",
        (V("x", "m", -1.0, 1.0), V("v", "m/s", -1.0, 1.0)),
        ("v", "-omega0**2*x - gamma*v + F*cos(Omega*t)"),
        (P("omega0", 2.0, "rad/s", 0.5, 4.0), P("gamma", 0.15, "1/s", 0.0, 2.0), P("F", 1.0, "N/kg", 0.0, 5.0),
         P("Omega", 1.9, "rad/s", 0.1, 5.0)),
        invariants={"energy": "v**2/2 + omega0**2*x**2/2"},
        aliases=("damped oscillator", "damped driven oscillator", "forced oscillator"),
        keywords=("oscillator", "damped", "driven", "forced", "spring"), t_end=20.0, n_steps=2000,
    ),
    OdeSpec(
        "driven_pendulum", "θ'' = −(g/L)·sin θ − γ·θ' + F·cos(Ω·t)",
        (V("theta", "rad", -1.0, 1.0), V("omega", "rad/s", -1.0, 1.0)),
        ("omega", "-(g/L)*sin(theta) - gamma*omega + F*cos(Omega*t)"),
        (P("g", 9.81, "m/s^2"), P("L", 1.0, "m"), P("gamma", 0.5, "1/s"), P("F", 1.2, "1/s^2"), P("Omega", 2.0, "rad/s")),
        aliases=("driven pendulum", "forced pendulum"), keywords=("pendulum", "driven", "forced"),
        t_end=20.0, n_steps=2000,
    ),
    OdeSpec(
        "duffing", "Duffing oscillator x'' = −δ·x' − α·x − β·x³ + F·cos(Ω·t)",
        (V("x", "m", -1.0, 1.0), V("v", "m/s", -1.0, 1.0)),
        ("v", "-delta*v - alpha*x - beta*x**3 + F*cos(Omega*t)"),
        (P("delta", 0.2), P("alpha", 1.0), P("beta", 1.0), P("F", 0.3), P("Omega", 1.2)),
        aliases=("duffing oscillator",), keywords=("duffing", "nonlinear", "cubic", "oscillator"),
        t_end=20.0, n_steps=2000,
    ),
    OdeSpec(
        "van_der_pol", "Van der Pol oscillator x'' = μ·(1 − x²)·x' − x",
        (V("x", "", -2.0, 2.0), V("v", "", -2.0, 2.0)), ("v", "mu*(1 - x**2)*v - x"), (P("mu", 1.0),),
        aliases=("van der pol", "vdp"), keywords=("van", "pol", "limit cycle", "relaxation"),
        t_end=20.0, n_steps=2000,
    ),
    OdeSpec(
        "lotka_volterra", "predator–prey: x' = α·x − β·x·y, y' = δ·x·y − γ·y",
        (V("x", "", 5.0, 15.0, "prey"), V("y", "", 2.0, 8.0, "predators")),
        ("alpha*x - beta*x*y", "delta*x*y - gamma*y"),
        (P("alpha", 1.1), P("beta", 0.4), P("delta", 0.1), P("gamma", 0.4)),
        invariants={"lyapunov": "delta*x - gamma*log(x) + beta*y - alpha*log(y)"},
        aliases=("lotka-volterra", "lotka volterra", "predator-prey", "predator prey"),
        keywords=("lotka", "volterra", "predator", "prey", "population"), t_end=20.0, n_steps=2000,
    ),
    OdeSpec(
        "lorenz", "Lorenz system (σ, ρ, β)",
        (V("x", "", -10.0, 10.0), V("y", "", -10.0, 10.0), V("z", "", 10.0, 30.0)),
        ("sigma*(y - x)", "x*(rho - z) - y", "x*y - beta*z"),
        (P("sigma", 10.0), P("rho", 28.0), P("beta", 8 / 3)),
        aliases=("lorenz attractor",), keywords=("lorenz", "chaos", "attractor", "convection"),
        t_end=10.0, n_steps=2000,
    ),
    OdeSpec(
        "kepler", "Kepler two-body problem (reduced), r'' = −GM·r/|r|³",
        (V("x", "m", 0.8, 1.2), V("y", "m", -0.1, 0.1), V("vx", "m/s", -0.1, 0.1), V("vy", "m/s", 0.8, 1.1)),
        ("vx", "vy", "-GM*x/(x**2 + y**2)**(3/2)", "-GM*y/(x**2 + y**2)**(3/2)"),
        (P("GM", 1.0, "m^3/s^2"),),
        invariants={"energy": "(vx**2 + vy**2)/2 - GM/sqrt(x**2 + y**2)", "angular_momentum": "x*vy - y*vx"},
        aliases=("two-body", "two body", "orbit", "kepler problem"), keywords=("kepler", "orbit", "planet", "gravity"),
        t_end=20.0, n_steps=4000,
    ),
    OdeSpec(
        "projectile_drag", "projectile with quadratic drag: v' = −g·ŷ − k·|v|·v",
        (V("x", "m", 0.0, 0.0), V("y", "m", 0.0, 0.0), V("vx", "m/s", 5.0, 20.0), V("vy", "m/s", 5.0, 20.0)),
        ("vx", "vy", "-k*sqrt(vx**2 + vy**2)*vx", "-g - k*sqrt(vx**2 + vy**2)*vy"),
        (P("g", 9.81, "m/s^2", description="gravitational acceleration"),
         P("k", 0.05, "1/m", 0.0, 1.0, "drag coefficient")),
        aliases=("projectile", "quadratic drag", "ballistic"), keywords=("projectile", "drag", "trajectory"),
        t_end=3.0, n_steps=600,
        launch_inputs=(V("v0", "m/s", 5.0, 30.0, "launch speed"), V("angle", "rad", 0.1, 1.4, "launch angle")),
        launch={"x": "0", "y": "0", "vx": "v0*cos(angle)", "vy": "v0*sin(angle)"},
    ),
    OdeSpec(
        "series_rlc", "driven series RLC circuit: q' = i, L·i' = V0·cos(Ω·t) − R·i − q/C",
        (V("q", "C", -0.5, 0.5), V("i", "A", -0.5, 0.5)),
        ("i", "(V0*cos(Omega*t) - R*i - q/C)/L"),
        (P("L", 1.0, "H"), P("R", 0.5, "ohm"), P("C", 0.25, "F"), P("V0", 1.0, "V"), P("Omega", 2.0, "rad/s")),
        aliases=("rlc", "series rlc", "rlc circuit dynamics"), keywords=("rlc", "circuit", "charge"),
        t_end=20.0, n_steps=2000,
    ),
    OdeSpec(
        "sir", "SIR epidemic: S' = −β·S·I, I' = β·S·I − γ·I, R' = γ·I",
        (V("S", "", 0.9, 0.99), V("I", "", 0.01, 0.1), V("R", "", 0.0, 0.0)),
        ("-beta*S*I", "beta*S*I - gamma*I", "gamma*I"), (P("beta", 0.5), P("gamma", 0.1)),
        invariants={"population": "S + I + R"},
        aliases=("sir model", "epidemic"), keywords=("sir", "epidemic", "infection", "susceptible"),
        t_end=50.0, n_steps=1000,
    ),
    OdeSpec(
        "coupled_oscillators", "two masses, three springs: x1'' = −(k+kc)·x1 + kc·x2 (per unit mass)",
        (V("x1", "m", -1.0, 1.0), V("v1", "m/s", -0.5, 0.5), V("x2", "m", -1.0, 1.0), V("v2", "m/s", -0.5, 0.5)),
        ("v1", "(-(k + kc)*x1 + kc*x2)/m", "v2", "(-(k + kc)*x2 + kc*x1)/m"),
        (P("m", 1.0, "kg"), P("k", 1.0, "N/m"), P("kc", 0.2, "N/m")),
        invariants={"energy": "m*(v1**2 + v2**2)/2 + k*(x1**2 + x2**2)/2 + kc*(x1 - x2)**2/2"},
        aliases=("coupled oscillators", "normal modes"), keywords=("coupled", "normal mode", "beats"),
        t_end=30.0, n_steps=3000,
    ),
    OdeSpec(
        "mathieu", "Mathieu (parametric) oscillator x'' = −(a − 2q·cos 2t)·x",
        (V("x", "", -1.0, 1.0), V("v", "", -1.0, 1.0)), ("v", "-(a - 2*q*cos(2*t))*x"),
        (P("a", 1.0), P("q", 0.2)),
        aliases=("mathieu equation", "parametric oscillator"), keywords=("mathieu", "parametric"),
        t_end=20.0, n_steps=2000,
    ),
    OdeSpec(
        "mass_on_spring", "a mass on a spring: m·x'' = −k·x",
        (V("x", "m", -1.0, 1.0, "displacement"), V("v", "m/s", -1.0, 1.0, "velocity")), ("v", "-k*x/m"),
        (P("m", 1.0, "kg", 0.1, 10.0, "mass"), P("k", 10.0, "N/m", 1.0, 100.0, "spring constant")),
        invariants={"energy": "m*v**2/2 + k*x**2/2"},
        aliases=("mass on a spring", "mass-spring system", "spring-mass system", "mass on spring"),
        keywords=("spring", "mass", "spring constant", "stiffness"),
        launch_inputs=(V("A", "m", 0.05, 1.0, "amplitude, released from rest"),), launch={"x": "A", "v": "0"},
    ),
    OdeSpec(
        "harmonic_oscillator", "undamped harmonic oscillator x'' = −ω0²·x",
        (V("x", "m", -1.0, 1.0), V("v", "m/s", -1.0, 1.0)), ("v", "-omega0**2*x"), (P("omega0", 1.0, "rad/s"),),
        invariants={"energy": "v**2/2 + omega0**2*x**2/2"},
        aliases=("harmonic oscillator", "spring", "sho"), keywords=("harmonic", "spring", "oscillator"),
    ),
)
