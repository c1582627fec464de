using System.Reflection;
using System.Reflection.PortableExecutable;
using System.Runtime.Loader;
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using AutoMirror.Template.Tests.Model;
using AutoMirror.Template.Tests.Tools;
using AutoMirror.Testing;
using Xunit.Abstractions;

namespace AutoMirror.Template.Tests;

/// <summary>What `sam build` makes (reproduced by scripts/sam-build.py, which runs the same Makefile targets the same
/// way): packages the managed dotnet10 runtime can load, a sensor layer the installer can install, and a layer that
/// follows the sensor's sources.</summary>
[Trait("Category", "Integration")]
[UnsupportedOSPlatform("windows")] // make, sh and Unix file modes, as on the build machines SAM runs make on
public sealed class SamBuildTests(SamBuildTests.Build build, ITestOutputHelper output) : IClassFixture<SamBuildTests.Build>, IDisposable
{
    // Lambda's quota for a function's unzipped code plus all its layers.
    private const long UnzippedLimit = 250L * 1024 * 1024;

    // crossgen2 marks a ReadyToRun image's target OS by XOR-ing the COFF machine with an OS constant (Linux: 0x7B79).
    private const ushort ReadyToRunLinuxMachineXor = 0x7B79;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);
    private readonly string _scratch = Directory.CreateTempSubdirectory("automirror-sam-build-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void EveryFunction_IsBuilt_WithTheHandlerAssembly_ItsNet10RuntimeConfig_AndItsDeps()
    {
        Assert.Equal(SamTemplate.Load().FunctionIds.Order(), build.FunctionIds.Order());
        Assert.All(build.FunctionIds, id =>
        {
            var artifact = build.ArtifactOf(id);
            Assert.True(File.Exists(Path.Combine(artifact, "AutoMirror.Functions.dll")), $"{id}: no AutoMirror.Functions.dll in {artifact}");
            var runtimeOptions = JsonNode.Parse(File.ReadAllText(Path.Combine(artifact, "AutoMirror.Functions.runtimeconfig.json")))!["runtimeOptions"]!;
            // Framework-dependent: the managed runtime supplies the framework, so it must be named (not included).
            var framework = runtimeOptions["framework"]!;
            Assert.Equal("Microsoft.NETCore.App", (string?)framework["name"]);
            Assert.StartsWith("10.", (string?)framework["version"], StringComparison.Ordinal);
            Assert.Null(runtimeOptions["includedFrameworks"]);
            // Every runtime assembly the deps file promises is in the package.
            var deps = JsonNode.Parse(File.ReadAllText(Path.Combine(artifact, "AutoMirror.Functions.deps.json")))!;
            // The host reads the runtimeTarget's entry (a RID-specific publish also lists the portable one).
            var assemblies = deps["targets"]![(string)deps["runtimeTarget"]!["name"]!]!.AsObject()
                .SelectMany(l => l.Value?["runtime"]?.AsObject().Select(r => Path.GetFileName(r.Key)) ?? []).ToList();
            Assert.Contains("AutoMirror.Aws.dll", assemblies);
            Assert.All(assemblies, a => Assert.True(File.Exists(Path.Combine(artifact, a)), $"{id}: deps.json names {a}, the package lacks it"));
        });
    }

    [Fact]
    public void EveryHandler_IsAPublicStreamToTaskOfStreamMethod_OfAConstructibleType_InTheBuiltAssembly()
    {
        Assert.All(build.FunctionIds, id =>
        {
            var handler = (string)build.Template["Resources"]![id]!["Properties"]!["Handler"]!;
            var parts = handler.Split("::");
            Assert.True(parts.Length == 3, $"{id}: '{handler}' is not Assembly::Type::Method");
            var artifact = build.ArtifactOf(id);
            var context = new PackageLoadContext(Path.Combine(artifact, parts[0] + ".dll"));
            try
            {
                var assembly = context.LoadFromAssemblyPath(Path.Combine(artifact, parts[0] + ".dll"));
                var type = assembly.GetType(parts[1], throwOnError: false);
                Assert.True(type is { IsPublic: true, IsAbstract: false }, $"{id}: no public concrete type {parts[1]} in {parts[0]}.dll");
                // The runtime finds the method by name, so an overload would make it ambiguous.
                var method = Assert.Single(type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static), m => m.Name == parts[2]);
                Assert.Equal([typeof(Stream)], method.GetParameters().Select(p => p.ParameterType));
                Assert.Equal(typeof(Task<Stream>), method.ReturnType);
                Assert.True(method.IsStatic || type.GetConstructor(Type.EmptyTypes) is not null, $"{id}: {type} has no public parameterless constructor for the runtime to call");
            }
            finally
            {
                context.Unload();
            }
        });
    }

    [Fact]
    public void EveryFunction_IsReadyToRun_ForTheTemplatesArchitecture()
    {
        // Precompiled code only runs on the architecture it was compiled for (elsewhere the runtime JITs it all and the
        // cold start is lost): the Makefile's RID must follow template.yaml's Architectures.
        var architecture = (string?)SamTemplate.Load().FunctionGlobals?["Architectures"]?[0] ?? "x86_64";
        var rid = architecture switch { "x86_64" => "linux-x64", "arm64" => "linux-arm64", _ => throw new InvalidOperationException(architecture) };
        Assert.All(build.FunctionIds, id =>
        {
            var artifact = build.ArtifactOf(id);
            var deps = JsonNode.Parse(File.ReadAllText(Path.Combine(artifact, "AutoMirror.Functions.deps.json")))!;
            Assert.EndsWith("/" + rid, (string?)deps["runtimeTarget"]!["name"], StringComparison.Ordinal);
            foreach (var assembly in (string[])["AutoMirror.Functions.dll", "AutoMirror.Aws.dll", "AWSSDK.Core.dll", "AWSSDK.EC2.dll"])
            {
                using var pe = new PEReader(File.OpenRead(Path.Combine(artifact, assembly)));
                Assert.True(pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0, $"{id}: {assembly} is IL only, not ReadyToRun");
                Assert.Equal(rid == "linux-x64" ? Machine.Amd64 : Machine.Arm64, (Machine)((ushort)pe.PEHeaders.CoffHeader.Machine ^ ReadyToRunLinuxMachineXor));
            }
        });
    }

    [Fact]
    public void SensorPackage_HoldsAnExecutableInstaller_TheSelfContainedSensor_AndItsUnits()
    {
        var layer = build.ArtifactOf("SensorPackage");

        Assert.True(IsExecutable(Path.Combine(layer, "install.sh")), "install.sh is not executable");
        var sensor = Path.Combine(layer, "sensor", "AutoMirror.Sensor");
        Assert.True(IsExecutable(sensor), "the sensor binary is missing or not executable");
        Assert.Equal("\u007fELF"u8.ToArray(), File.ReadAllBytes(sensor)[..4]);
        // Self-contained: the runtime travels with it (the sensor image has no .NET installed).
        Assert.NotNull(JsonNode.Parse(File.ReadAllText(Path.Combine(layer, "sensor", "AutoMirror.Sensor.runtimeconfig.json")))!["runtimeOptions"]!["includedFrameworks"]);
        Assert.True(File.Exists(Path.Combine(layer, "sensor", "libcoreclr.so")), "no libcoreclr.so: not a self-contained linux build");
        Assert.Equal(
            Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "src", "AutoMirror.Sensor", "deploy"), "*.service").Select(Path.GetFileName).Order(),
            Directory.GetFiles(Path.Combine(layer, "sensor-deploy"), "*.service").Select(Path.GetFileName).Order());
        Assert.True(File.Exists(Path.Combine(layer, "sensor-deploy", "zeek", "node.cfg")), "Zeek's node.cfg is missing");
    }

    [Fact]
    public void EachFunctionWithTheLayer_StaysBelowLambdasUnzippedLimit()
    {
        var layer = DirectorySize(build.ArtifactOf("SensorPackage"));
        output.WriteLine($"SensorPackage: {layer:N0} bytes unzipped");
        Assert.All(build.FunctionIds, id =>
        {
            var function = DirectorySize(build.ArtifactOf(id));
            output.WriteLine($"{id}: {function:N0} bytes unzipped, {function + layer:N0} with the layer ({(function + layer) * 100 / UnzippedLimit}% of 250 MB)");
            Assert.True(function + layer < UnzippedLimit, $"{id}: {function + layer:N0} bytes with the layer");
        });
    }

    [Fact]
    public void BuiltTemplate_PointsEachResourceAtItsArtifact_AndTheWorkflowsBackAtTheirDefinitions()
    {
        foreach (var id in build.FunctionIds)
        {
            Assert.Equal(id, (string?)build.Template["Resources"]![id]!["Properties"]!["CodeUri"]);
        }

        Assert.Equal("SensorPackage", (string?)build.Template["Resources"]!["SensorPackage"]!["Properties"]!["ContentUri"]);
        var source = SamTemplate.Load();
        foreach (var id in source.LogicalIdsOfType("AWS::Serverless::StateMachine"))
        {
            var built = (string)build.Template["Resources"]![id]!["Properties"]!["DefinitionUri"]!;
            Assert.Equal(
                Path.GetFullPath(Path.Combine(RepositoryRoot.Path, (string)source.Properties(id)["DefinitionUri"]!)),
                Path.GetFullPath(Path.Combine(build.Directory, built)));
        }
    }

    [Fact]
    public async Task ASensorSourceChange_ReachesTheLayerTheNextBuildMakes()
    {
        // The repository's own template, samconfig.toml and Makefile in a copy, with a stand-in dotnet whose
        // "sensor" is a digest of the sensor's sources, so the test costs no compile.
        var copy = Path.Combine(_scratch, "repo");
        foreach (var file in new[] { "template.yaml", "samconfig.toml", "Directory.Build.props", "Directory.Packages.props" })
        {
            CopyTree(Path.Combine(RepositoryRoot.Path, file), Path.Combine(copy, file));
        }

        CopyTree(Path.Combine(RepositoryRoot.Path, "deploy"), Path.Combine(copy, "deploy"));
        CopyTree(Path.Combine(RepositoryRoot.Path, "src", "AutoMirror.Sensor"), Path.Combine(copy, "src", "AutoMirror.Sensor"));
        var bin = Directory.CreateDirectory(Path.Combine(_scratch, "bin")).FullName;
        var dotnet = Path.Combine(bin, "dotnet");
        await File.WriteAllTextAsync(dotnet, """
            #!/bin/sh
            # dotnet publish PROJECT ... -o DIR
            project="$2"; out=""
            while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done
            mkdir -p "$out"
            find "$(dirname "$project")" -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' | sort | xargs cat | sha256sum > "$out/AutoMirror.Sensor"
            chmod +x "$out/AutoMirror.Sensor"
            """);
        File.SetUnixFileMode(dotnet, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = new Dictionary<string, string> { ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH") };
        var sensor = Path.Combine(copy, ".aws-sam", "build", "SensorPackage", "sensor", "AutoMirror.Sensor");

        var first = await ExternalTool.RunAsync("python3", [Build.Script, "SensorPackage", "--template", Path.Combine(copy, "template.yaml")], Limit, environment);
        Assert.True(first.ExitCode == 0, first.Describe());
        var before = await File.ReadAllTextAsync(sensor);
        await File.AppendAllTextAsync(Path.Combine(copy, "src", "AutoMirror.Sensor", "Program.cs"), "\n// changed\n");
        var second = await ExternalTool.RunAsync("python3", [Build.Script, "SensorPackage", "--template", Path.Combine(copy, "template.yaml")], Limit, environment);

        Assert.True(second.ExitCode == 0, second.Describe());
        Assert.NotEqual(before, await File.ReadAllTextAsync(sensor));
    }

    [Fact]
    public async Task AFailedMake_IsNamedByLogicalId_AndFailsTheBuild()
    {
        var project = Directory.CreateDirectory(Path.Combine(_scratch, "failing")).FullName;
        Directory.CreateDirectory(Path.Combine(project, "fn"));
        await File.WriteAllTextAsync(Path.Combine(project, "template.yaml"), """
            Resources:
              BrokenFunction:
                Type: AWS::Serverless::Function
                Metadata:
                  BuildMethod: makefile
                Properties:
                  Runtime: dotnet10
                  Handler: A::B::C
                  CodeUri: fn/
            """);
        await File.WriteAllTextAsync(Path.Combine(project, "fn", "Makefile"), "build-BrokenFunction:\n\texit 3\n");

        var result = await ExternalTool.RunAsync("python3", [Build.Script, "--template", Path.Combine(project, "template.yaml")], Limit);

        Assert.True(result.ExitCode != 0, result.Describe());
        Assert.Contains("FAILED BrokenFunction: make build-BrokenFunction failed", result.StandardError, StringComparison.Ordinal);
    }

    private static bool IsExecutable(string path) =>
        File.Exists(path) && (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0;

    private static long DirectorySize(string path) =>
        new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    private static void CopyTree(string from, string to)
    {
        if (File.Exists(from))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to);
            return;
        }

        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            if (entry.Name is "bin" or "obj")
            {
                continue;
            }

            CopyTree(entry.FullName, Path.Combine(to, entry.Name));
        }
    }

    /// <summary>Loads a package's assembly as the runtime would: its references resolved from its own deps.json.</summary>
    private sealed class PackageLoadContext(string mainAssembly) : AssemblyLoadContext(isCollectible: true)
    {
        private readonly AssemblyDependencyResolver _resolver = new(mainAssembly);

        protected override Assembly? Load(AssemblyName assemblyName) =>
            _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;
    }

    /// <summary>.aws-sam/build as scripts/test.sh leaves it; built here when missing or older than a source it is
    /// made from, so the tests also run on their own.</summary>
    public sealed class Build : IAsyncLifetime
    {
        public static readonly string Script = Path.Combine(RepositoryRoot.Path, "scripts", "sam-build.py");
        private static readonly string[] Sources = ["src/AutoMirror.Functions", "src/AutoMirror.Core", "src/AutoMirror.Aws", "src/AutoMirror.Sensor", "deploy", "template.yaml", "samconfig.toml", "Directory.Build.props", "Directory.Packages.props"];

        public async Task InitializeAsync()
        {
            var templatePath = Path.Combine(Directory, "template.yaml");
            if (!File.Exists(templatePath) || NewestSource() > File.GetLastWriteTimeUtc(templatePath))
            {
                var result = await ExternalTool.RunAsync("python3", [Script], TimeSpan.FromMinutes(10));
                Assert.True(result.ExitCode == 0, result.Describe());
            }

            Template = CloudFormationYaml.Load(templatePath);
            FunctionIds = [.. Template["Resources"]!.AsObject().Where(r => (string?)r.Value!["Type"] == "AWS::Serverless::Function").Select(r => r.Key)];
        }

        public Task DisposeAsync() => Task.CompletedTask;

        public string Directory { get; } = Path.Combine(RepositoryRoot.Path, ".aws-sam", "build");

        public JsonObject Template { get; private set; } = [];

        public IReadOnlyList<string> FunctionIds { get; private set; } = [];

        public string ArtifactOf(string logicalId) => Path.Combine(Directory, logicalId);

        private static DateTime NewestSource() =>
            Sources.Select(s => Path.Combine(RepositoryRoot.Path, s))
                .SelectMany(p => File.Exists(p) ? [new FileInfo(p)] : new DirectoryInfo(p).EnumerateFiles("*", SearchOption.AllDirectories)
                    .Where(f => !f.FullName.Contains("/bin/", StringComparison.Ordinal) && !f.FullName.Contains("/obj/", StringComparison.Ordinal)))
                .Max(f => f.LastWriteTimeUtc);
    }
}
