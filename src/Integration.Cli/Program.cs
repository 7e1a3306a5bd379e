using Integration.Cli;

// The command line for the admin, ingestion, campaigns and deliveries gRPC APIs (for machines without grpcurl).
return await CliApp.RunFromEnvironmentAsync(args, Environment.GetEnvironmentVariable, Console.Out, Console.Error);
