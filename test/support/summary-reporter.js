// Prints jest's totals as one plain line ("N passed, N failed, N skipped") that CI can read.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    // A file that fails before its tests run counts as a failure too.
    const failed = numFailedTests + results.numRuntimeErrorTestSuites;
    console.log(`\njest: ${numPassedTests} passed, ${failed} failed, ${numPendingTests + numTodoTests} skipped`);
  }
}
