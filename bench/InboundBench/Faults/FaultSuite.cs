namespace InboundBench.Faults;

internal static class FaultSuite
{
    public static Task<int> RunAsync(string? only, string? resultsFile) => Task.FromResult(0);
}
