"""PDE discovery: the field law behind snapshots u(x, t) (1-D or 2-D in space, one or several fields).

Weak-form sparse regression over a library of conservative terms, chosen by cross-validated residual, with
function terms where the polynomials fall short, and snapped to simple coefficients. Entry point:
:func:`discover_pde`; data in through :class:`FieldData` or :func:`load_field_file`.
"""

from tools.pde.data import FieldData, FieldDataError, load_field_file
from tools.pde.discover import FieldLaw, PdeDiscovery, PdeOptions, discover_pde
from tools.pde.library import LibraryOptions, Term, build_library
from tools.pde.select import SelectOptions
from tools.pde.weak import WeakOptions

__all__ = ["FieldData", "FieldDataError", "FieldLaw", "LibraryOptions", "PdeDiscovery", "PdeOptions",
           "SelectOptions", "Term", "WeakOptions", "build_library", "discover_pde", "load_field_file"]
