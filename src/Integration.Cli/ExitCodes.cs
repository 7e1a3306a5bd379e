namespace Integration.Cli;

/// <summary>What the command line's exit status means (also in the root command's help).</summary>
internal static class ExitCodes
{
    /// <summary>The call succeeded.</summary>
    public const int Success = 0;

    /// <summary>The service answered with an error (invalid argument, not found, permission denied, …).</summary>
    public const int Refused = 1;

    /// <summary>The command line itself is wrong: unknown command, missing argument, bad value.</summary>
    public const int Usage = 2;

    /// <summary>The service could not be reached or did not answer in time.</summary>
    public const int Unreachable = 3;

    public const string Help = "exit status: 0 success, 1 the service refused the call, 2 a usage error, 3 the service could not be reached";
}
