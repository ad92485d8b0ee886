"""Goals in Russian and Chinese: a phrase table per language that the offline planner reads the goal through
before matching it to the catalogue (no model). Each phrase maps to the English words the catalogue's aliases and
the planner's question forms use; longer phrases are replaced first."""

from __future__ import annotations

import re

RUSSIAN: dict[str, str] = {
    "закон всемирного тяготения": "newton's law of gravitation",
    "закон тяготения": "newton's law of gravitation",
    "гравитационн": "gravitational force",
    "тяготени": "gravitation",
    "закон ома": "ohm's law",
    "закон кулона": "coulomb's law",
    "кулоновск": "coulomb force",
    "период маятника": "period of a pendulum",
    "период колебаний маятника": "period of a pendulum",
    "маятник": "pendulum",
    "релятивистское сложение скоростей": "relativistic velocity addition",
    "сложение скоростей": "relativistic velocity addition",
    "сложения скоростей": "relativistic velocity addition",
    "уравнения движения": "equations of motion",
    "лотки-вольтерры": "lotka-volterra",
    "лотка-вольтерра": "lotka-volterra",
    "хищник-жертва": "lotka-volterra",
    "закон снеллиуса": "snell's law",
    "закон преломления": "snell's law",
    "идеального газа": "ideal gas law",
    "стефана-больцмана": "stefan-boltzmann",
    "закон планка": "planck's law",
    "излучение чёрного тела": "black-body radiation",
    "излучение черного тела": "black-body radiation",
    "радиоактивный распад": "radioactive decay",
    "радиоактивного распада": "radioactive decay",
    "дисперсионное соотношение": "dispersion relation",
    "закон дисперсии": "dispersion relation",
    "клейна-гордона": "klein-gordon field",
    "резонанс": "resonance",
    "вынужденного осциллятора": "driven oscillator",
    "сила лоренца": "lorentz force",
    "силу лоренца": "lorentz force",
    "лоренц-фактор": "lorentz factor",
    "фактор лоренца": "lorentz factor",
    "длина волны де бройля": "de broglie wavelength",
    "длину волны де бройля": "de broglie wavelength",
    "третий закон кеплера": "kepler's third law",
    "как далеко": "how far",
    "снаряд": "projectile",
    "пружин": "spring",
    "дальность": "range",
    "период": "period",
    "частота": "frequency",
    "в зависимости от": "as a function of",
}

CHINESE: dict[str, str] = {
    "万有引力定律": "newton's law of gravitation",
    "万有引力": "newton's law of gravitation",
    "欧姆定律": "ohm's law",
    "库仑定律": "coulomb's law",
    "库仑力": "coulomb force",
    "单摆的周期": "period of a pendulum",
    "单摆周期": "period of a pendulum",
    "单摆": "simple pendulum",
    "相对论速度叠加": "relativistic velocity addition",
    "速度叠加": "relativistic velocity addition",
    "速度相加": "relativistic velocity addition",
    "运动方程": "equations of motion",
    "洛特卡-沃尔泰拉": "lotka-volterra",
    "捕食者-猎物": "lotka-volterra",
    "斯涅尔定律": "snell's law",
    "折射定律": "snell's law",
    "理想气体": "ideal gas law",
    "斯特藩-玻尔兹曼": "stefan-boltzmann",
    "普朗克定律": "planck's law",
    "黑体辐射": "black-body radiation",
    "放射性衰变": "radioactive decay",
    "色散关系": "dispersion relation",
    "克莱因-戈尔登": "klein-gordon field",
    "共振": "resonance",
    "受迫振子": "driven oscillator",
    "洛伦兹力": "lorentz force",
    "洛伦兹因子": "lorentz factor",
    "德布罗意波长": "de broglie wavelength",
    "开普勒第三定律": "kepler's third law",
    "多远": "how far",
    "抛射体": "projectile",
    "炮弹": "projectile",
    "弹簧": "spring",
    "射程": "range",
    "周期": "period",
    "频率": "frequency",
}

_PATTERN = re.compile("|".join(re.escape(p) for p in sorted({**RUSSIAN, **CHINESE}, key=len, reverse=True)),
                      re.IGNORECASE)
_ENGLISH = {phrase.lower(): english for phrase, english in {**RUSSIAN, **CHINESE}.items()}


def in_english(goal: str) -> str:
    """``goal`` with every known Russian or Chinese phrase (any case) replaced by its English words; the rest of
    the text, file names included, is left as written."""
    return _PATTERN.sub(lambda found: f" {_ENGLISH[found.group(0).lower()]} ", goal)
