"""Poisson blending and the shared Laplace solver.

Both solve, per channel, the discrete Dirichlet problem

    sum over in-image 4-neighbours q of p:  (x_q - x_p) = rhs_p     for every hole pixel p,
    x_p = known value                                                for every other pixel,

where a neighbour outside the image does not count (a natural, Neumann boundary at the image edge).

The solver is conjugate gradients preconditioned by one multigrid V-cycle (4-5 iterations reach
1e-4 of the data's range), in two engines sharing the design:

* compact holes (at least DENSE_FILL of their bounding box) are solved on that box with dense torch
  tensors split into parity subgrids, so that a red-black sweep is a few fused strided operations;
* sparse holes (thin scratches over a whole scan) by an engine that stores only the hole's pixels
  as flat lists with precomputed neighbour indices, so its cost follows the pixels, not the box.

Choices, each measured against the alternatives (a 1-megapixel hole in a 24-megapixel photo):

* Cell-centred coarsening: a coarse cell is active when any of its 2x2 children is. Its operator is
  a finite-volume 5-point stencil on the *agglomerate* of its hole pixels: couplings are
  (fine edges shared) / (distance between the agglomerates' centroids) and each Dirichlet edge
  pulls with 1 / (distance from the centroid to the known pixel). In open regions this is the
  ordinary Laplacian of the doubled grid; at the hole's edge it keeps the true geometry, where
  plain re-discretisation (a partly filled coarse cell treated as all hole) made cycles diverge,
  halved Galerkin products converged slowly and Petrov-Galerkin 9-point products degraded with
  depth. The stencils are symmetric, so every level is SPD.
* Red-black Gauss-Seidel smoothing (two sweeps), cell-centred bilinear prolongation P and
  restriction P^T, symmetric V-cycle: an SPD preconditioner, so plain CG applies and converges.
* float32 unknowns: iteration stops when the estimated remaining error is below the tolerance,
  far above float32 rounding (6e-8 relative) and far below one 8-bit level; halving the memory
  traffic against float64 is what makes the solver fast. A direct factorisation of 1M unknowns
  (scipy's SuperLU) takes seconds, which is why there is a multigrid at all.

Modules, front end first:

* ``blend``: ``poisson_blend`` and ``solve_laplace``, the public entry points;
* ``pixels``: array checks, dtype scales, gathers and scatters, the known values around a hole;
* ``dirichlet``: the problem's right-hand side from those values, and the choice of engine;
* ``cells`` and ``cell_levels``: the cell-list engine (V-cycle; hierarchy);
* ``dense`` and ``dense_levels``: the dense engine (V-cycle; hierarchy);
* ``multigrid``: what both hierarchies share (finite-volume geometry and couplings, the direct
  coarsest solve, the smoothing sweeps);
* ``cg``: the preconditioned conjugate-gradient loop and stopping rule both engines run.

The tunables are read where they are defined (``DIRECT_LIMIT`` and ``DENSE_FILL`` in ``dirichlet``,
``SWEEPS`` in ``multigrid``, ``DEFAULT_TOL`` in ``cg``); the names here are for reading them.
"""

from restorer.core.poisson.blend import poisson_blend, solve_laplace
from restorer.core.poisson.cg import DEFAULT_TOL as DEFAULT_TOL
from restorer.core.poisson.dirichlet import DENSE_FILL as DENSE_FILL
from restorer.core.poisson.dirichlet import DIRECT_LIMIT as DIRECT_LIMIT
from restorer.core.poisson.dirichlet import harmonic_problem as harmonic_problem
from restorer.core.poisson.dirichlet import solve_dirichlet as solve_dirichlet
from restorer.core.poisson.multigrid import SWEEPS as SWEEPS
from restorer.core.poisson.pixels import KnownValues as KnownValues
from restorer.core.poisson.pixels import check_hole as check_hole
from restorer.core.poisson.pixels import check_pixels as check_pixels
from restorer.core.poisson.pixels import gather as gather
from restorer.core.poisson.pixels import scatter as scatter
from restorer.core.poisson.pixels import to_dtype as to_dtype
from restorer.core.poisson.pixels import tolerance_for as tolerance_for
from restorer.core.poisson.pixels import value_scale as value_scale

__all__ = ["poisson_blend", "solve_laplace"]
