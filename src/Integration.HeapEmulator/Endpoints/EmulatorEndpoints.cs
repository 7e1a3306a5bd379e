using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Integration.HeapEmulator.Api;
using Integration.HeapEmulator.Emulator;
using Integration.HeapEmulator.Inspection;
using Microsoft.AspNetCore.Mvc;

namespace Integration.HeapEmulator.Endpoints;

internal static class EmulatorEndpoints
{
    /// <summary>The emulator's own API for tests and people: inspection, reset, apps and fault injection.</summary>
    public static IEndpointRouteBuilder MapEmulatorEndpoints(this IEndpointRouteBuilder app)
    {
        var emulator = app.MapGroup("/_emulator");
        var json = InspectionJsonContext.Default;

        emulator.MapGet("/events", (
            EmulatorStore store,
            [FromQuery(Name = "app_id")] string? appId,
            string? identity,
            [FromQuery(Name = "user_id")] string? userId,
            [FromQuery(Name = "event")] string? eventName) =>
        {
            var events = store.Events(appId, identity, userId, eventName);
            return Results.Json(new EventsPage(events.Count, events), json.EventsPage);
        });

        emulator.MapGet("/users", (
            EmulatorStore store,
            [FromQuery(Name = "app_id")] string? appId,
            string? identity,
            [FromQuery(Name = "user_id")] string? userId) =>
        {
            var users = store.Users(appId, identity, userId);
            return Results.Json(new UsersPage(users.Count, users), json.UsersPage);
        });

        emulator.MapGet("/stats", (ApiStats stats) => Results.Json(stats.ToView(), json.EmulatorStats));

        emulator.MapPost("/reset", (EmulatorStore store, ApiStats stats, HeapRateLimiter limiter, FaultInjector faults) =>
        {
            store.Reset();
            stats.Reset();
            limiter.Reset();
            faults.Clear();
            return Results.NoContent();
        });

        emulator.MapGet("/apps", (HeapApps apps) => Results.Json(new AppList(apps.All), json.AppList));

        emulator.MapPost("/apps", async (HttpRequest request, HeapApps apps) =>
        {
            var (registration, error) = await ReadAsync(request, json.AppRegistration);
            if (registration is null || string.IsNullOrWhiteSpace(registration.AppId))
            {
                return BadRequest(error ?? "app_id is required.");
            }
            var appId = registration.AppId.Trim();
            var created = apps.Add(appId);
            return Results.Json(new AppRegistration(appId), json.AppRegistration,
                statusCode: created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
        });

        emulator.MapGet("/faults", (FaultInjector faults) => Results.Json(new FaultList(faults.All()), json.FaultList));

        emulator.MapPost("/faults", async (HttpRequest request, FaultInjector faults) =>
        {
            var (fault, error) = await ReadAsync(request, json.FaultRequest);
            if (fault is null || (error = FaultInjector.Validate(fault)) is not null)
            {
                return BadRequest(error ?? "Send a fault as a JSON object.");
            }
            return Results.Json(faults.Add(fault), json.FaultRule, statusCode: StatusCodes.Status201Created);
        });

        emulator.MapDelete("/faults", (FaultInjector faults) =>
        {
            faults.Clear();
            return Results.NoContent();
        });

        return app;
    }

    private static async Task<(T? Value, string? Error)> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return (await JsonSerializer.DeserializeAsync(request.Body, type, request.HttpContext.RequestAborted), null);
        }
        catch (JsonException ex)
        {
            return (null, $"The body is not a valid {typeof(T).Name}: {ex.Message}");
        }
    }

    private static IResult BadRequest(string message) =>
        Results.Json(new HeapError(message), InspectionJsonContext.Default.HeapError, statusCode: StatusCodes.Status400BadRequest);
}
