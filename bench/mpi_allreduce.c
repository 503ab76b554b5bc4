/*
 * The C peer of `bench/_mpi_allreduce.ts`: the same in-place MPI_Allreduce (float sum) over
 * MPI_COMM_WORLD, timed the same way, printed as the same JSON line by rank 0. Compiled by
 * `bench/mpi_bench.ts` with the launcher's own mpicc.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) printf("{");
  for (int a = 1; a < argc; a++) {
    long bytes = atol(argv[a]);
    long n = bytes / 4;
    int iters = bytes >= (64L << 20) ? 5 : 50;
    float *buf = malloc(n * sizeof(float));
    for (long i = 0; i < n; i++) buf[i] = (float)(i % 7);
    double *t = malloc(iters * sizeof(double));
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); /* warm-up */
    for (int k = 0; k < iters; k++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      t[k] = MPI_Wtime() - t0;
    }
    qsort(t, iters, sizeof(double), cmp);
    if (rank == 0) printf("%s\"%ld\": %.9f", a > 1 ? ", " : "", bytes, t[iters / 2]);
    free(buf);
    free(t);
  }
  if (rank == 0) printf("}\n");
  MPI_Finalize();
  return 0;
}
