/* The sanitizer pass's LD_PRELOAD (tests/run.sh): a dlclose() that leaves the library loaded.
 *
 * Open MPI unloads its MCA components (mca_*.so) in MPI_Finalize, while allocations they made
 * in MPI_Init live until exit (tests/sanitizer/lsan.supp suppresses them). LeakSanitizer's
 * check at exit then meets stack frames in unmapped code, and for every such frame clang 14's
 * symbolizer reads the process's module list again (/proc/self/maps, ~350 times for a
 * one-rank run that only refuses a setting): about 2 s of every rmens process in that pass.
 * With the components still mapped those frames resolve to their libraries, are suppressed by
 * name at the first look, and read better in a report. Nothing is checked less: rmens's own
 * leaks are reported as before (ASan's dlclose interceptor, in the executable, still runs and
 * calls this as the "real" dlclose). Built without sanitizers: it is preloaded into every
 * process of the pass (mpirun, Python), not only the instrumented ones. */
int dlclose(void *handle);

int dlclose(void *handle)
{
  (void)handle;
  return 0;
}
