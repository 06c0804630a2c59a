"""nodeclf's tests. numpy's BLAS kernels are chosen here, before numpy loads, as the
``nodeclf`` command chooses them (:mod:`nodeclf_cli.blas`), so that the tests check the
numbers the command computes."""

from nodeclf_cli.blas import choose_kernels

CHOSEN = choose_kernels()
