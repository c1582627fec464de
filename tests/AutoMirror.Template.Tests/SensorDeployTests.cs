using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AutoMirror.Template.Tests.Model;
using AutoMirror.Template.Tests.Tools;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests;

/// <summary>
/// The path from `sam build` to a running sensor: the package Makefile finds the repository from any working
/// directory, the user data calls the installer with options it knows, and the installer (run into a scratch root,
/// commands printed instead of run) installs the sensor's own unit with this stack's settings and points Zeek at
/// the TAP.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class SensorDeployTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(1);
    private static readonly string Installer = Path.Combine(RepositoryRoot.Path, "deploy", "sensor-package", "install.sh");
    private static readonly string SensorDeploy = Path.Combine(RepositoryRoot.Path, "src", "AutoMirror.Sensor", "deploy");
    private static readonly string[] ReceiveSettings = ["Sensor__AfXdp__", "Sensor__PacketRing__", "Sensor__Receive"];

    /// <summary>The drop-ins each receive mode installs: the capabilities of every path it may run.</summary>
    private static readonly Dictionary<string, string[]> DropInsOf = new()
    {
        ["auto"] = ["af-xdp.conf", "packet-ring.conf"],
        ["sockets"] = [],
        ["af-xdp"] = ["af-xdp.conf"],
        ["packet-ring"] = ["packet-ring.conf"],
    };
    private readonly string _scratch = Directory.CreateTempSubdirectory("automirror-sensor-deploy-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task Makefile_BuildsTheSensorFromTheRepository_WhenRunFromSamsScratchFolder()
    {
        var makefile = Path.Combine(RepositoryRoot.Path, "deploy", "sensor-package", "Makefile");
        var artifacts = Path.Combine(_scratch, "artifacts");

        // SAM runs make in a scratch copy with --makefile pointing at the original; -n prints the recipe.
        var result = await ExternalTool.RunAsync("make", ["-n", "-C", _scratch, "--makefile", makefile, "build-SensorPackage", "ARTIFACTS_DIR=" + artifacts], Limit);

        Assert.True(result.ExitCode == 0, result.Describe());
        var sensorProject = Path.Combine(RepositoryRoot.Path, "src", "AutoMirror.Sensor", "AutoMirror.Sensor.csproj");
        Assert.Contains($"dotnet publish \"{sensorProject}\" -c Release -r linux-x64 --self-contained true -o \"{artifacts}/sensor\"", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"install -m 0755 \"{RepositoryRoot.Path}/deploy/sensor-package/install.sh\" \"{artifacts}/install.sh\"", result.StandardOutput, StringComparison.Ordinal);
        // The whole deploy folder, so every drop-in the installer may install (af-xdp.conf, packet-ring.conf) ships.
        Assert.Contains($"cp -R \"{SensorDeploy}\" \"{artifacts}/sensor-deploy\"", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void UserData_RunsTheInstallerWithOptionsItAccepts()
    {
        var userData = UserData();
        var accepted = AcceptedOption().Matches(File.ReadAllText(Installer)).Select(m => m.Groups[1].Value).ToHashSet();

        var call = userData.Replace("\\\n", " ", StringComparison.Ordinal).Split('\n').Single(l => l.Contains("install.sh", StringComparison.Ordinal));
        var used = Regex.Matches(call, @"(--[a-z-]+)").Select(m => m.Groups[1].Value).ToList();

        Assert.Equal(["--analyzers", "--health-port", "--receive", "--source-networks", "--zeek-repository"], used.Order());
        Assert.All(used, option => Assert.Contains(option, accepted));
        // The layer version the instance fetches is this stack's sensor package.
        Assert.Contains("get_layer_version_by_arn(Arn=\"${SensorPackage}\")", userData, StringComparison.Ordinal);
        // The sensor admits VXLAN from the VPC, and from MirrorSourceCidr when other VPCs are mirrored.
        Assert.Contains("--source-networks ${SourceNetworks}", call, StringComparison.Ordinal);
        var variables = (JsonObject)SamTemplate.Load().Properties("SensorLaunchTemplate")["LaunchTemplateData"]!["UserData"]!["Fn::Base64"]!["Fn::Sub"]![1]!;
        Assert.Equal("""{"Fn::If":["HasMirrorSourceCidr",{"Fn::Sub":"${VpcCidr},${MirrorSourceCidr}"},{"Ref":"VpcCidr"}]}""", variables["SourceNetworks"]!.ToJsonString());
    }

    [Fact]
    public void UserData_WaitsForTheBootAptLock_OnEveryAptGet()
    {
        var aptGets = UserData().Split('\n').Where(l => Regex.IsMatch(l, @"\bapt-get\b")).ToList();

        Assert.NotEmpty(aptGets);
        Assert.All(aptGets, l => Assert.Matches(@"apt-get -o DPkg::Lock::Timeout=\d+ ", l));
    }

    [Fact]
    public void UserData_SignalsFailureOnAnyError_AndSuccessOnlyOnceTheSensorAnswersHealth()
    {
        var userData = UserData();

        // Any error ends the script (set -e) through the EXIT trap, which signals FAILURE when the status is not 0.
        Assert.Contains("set -euo pipefail", userData, StringComparison.Ordinal);
        Assert.Contains("trap on_exit EXIT", userData, StringComparison.Ordinal);
        var onExit = userData[userData.IndexOf("on_exit() {", StringComparison.Ordinal)..userData.IndexOf("trap on_exit EXIT", StringComparison.Ordinal)];
        Assert.Contains("signal FAILURE", onExit, StringComparison.Ordinal);
        // The trap is set before the first command that can fail.
        Assert.True(userData.IndexOf("trap on_exit EXIT", StringComparison.Ordinal) < userData.IndexOf("apt-get", StringComparison.Ordinal));
        // SUCCESS only after /health answered, and after the installer.
        var health = userData.IndexOf("/health", StringComparison.Ordinal);
        var success = userData.IndexOf("signal SUCCESS", StringComparison.Ordinal);
        Assert.True(userData.IndexOf("install.sh", StringComparison.Ordinal) < health && health < success, userData);
        Assert.Single(Regex.Matches(userData, "signal SUCCESS"));
        // The signal is the one SensorGroup's CreationPolicy counts, from this stack, per instance.
        Assert.Contains("signal_resource(StackName=\"${AWS::StackName}\"", userData, StringComparison.Ordinal);
        Assert.Contains("LogicalResourceId=\"SensorGroup\"", userData, StringComparison.Ordinal);
        Assert.Contains("UniqueId=instance", userData, StringComparison.Ordinal);
        Assert.Contains("python3-boto3", userData, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UserData_IsValidBash_OnceCloudFormationSubstitutedIt()
    {
        // What the instance runs: ${Name} replaced by CloudFormation (here with stand-ins), then parsed by bash.
        var script = Regex.Replace(UserData(), @"\$\{[A-Za-z:]+\}", "x");
        var file = Path.Combine(_scratch, "user-data.sh");
        await File.WriteAllTextAsync(file, script);

        var result = await ExternalTool.RunAsync("bash", ["-n", file], Limit);

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.StartsWith("#!/bin/bash\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Template_ZeekRepositoryDefault_IsTheFormAptAccepts()
    {
        var parameter = SamTemplate.Load().Root["Parameters"]!["ZeekRepositoryUrl"]!;
        var url = (string)parameter["Default"]!;

        // download.opensuse.org redirects https to http mirrors and apt refuses such a redirect: the repository is
        // named by http and trusted through its key (signed-by), which the installer fetches over https.
        Assert.Equal("http://download.opensuse.org/repositories/security:/zeek/xUbuntu_24.04/", url);
        Assert.Matches((string)parameter["AllowedPattern"]!, url);
        Assert.Matches((string)parameter["AllowedPattern"]!, "https://mirror.example/zeek/xUbuntu_24.04/");
    }

    [Fact]
    public async Task Installer_HttpRepository_IsSignedByItsKey_FetchedOverHttpsFollowingRedirects_AndAptWaitsForTheLock()
    {
        var root = Path.Combine(_scratch, "root");

        var result = await RunInstallerAsync(Package(), root, "--health-port", "8080", "--zeek-repository", "http://download.opensuse.org/repositories/security:/zeek/xUbuntu_24.04/");

        Assert.True(result.ExitCode == 0, result.Describe());
        var source = await File.ReadAllTextAsync(Path.Combine(root, "etc/apt/sources.list.d/zeek.list"));
        Assert.Equal("deb [signed-by=/usr/share/keyrings/zeek.gpg] http://download.opensuse.org/repositories/security:/zeek/xUbuntu_24.04/ /", source.Trim());
        var commands = result.StandardOutput.Split('\n').Where(l => l.StartsWith("would run:", StringComparison.Ordinal)).ToList();
        var key = Assert.Single(commands, c => c.Contains("Release.key", StringComparison.Ordinal) && c.Contains("curl", StringComparison.Ordinal));
        Assert.Contains(" https://download.opensuse.org/repositories/security:/zeek/xUbuntu_24.04/Release.key", key, StringComparison.Ordinal);
        Assert.Contains(" -L", key.Replace("-fsSL", "-f -s -S -L", StringComparison.Ordinal), StringComparison.Ordinal);
        var aptGets = commands.Where(c => c.Contains("apt-get", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, aptGets.Count);
        Assert.All(aptGets, c => Assert.Matches(@"apt-get -o DPkg::Lock::Timeout=\d+ ", c));
    }

    [Fact]
    public async Task Installer_InstallsTheSensorsOwnUnitWithTheStacksSettings_AndPointsZeekAtTheTap()
    {
        var package = Package();
        var root = Path.Combine(_scratch, "root");

        var result = await RunInstallerAsync(package, root, "--health-port", "8081", "--zeek-repository", "https://packages.example/zeek/xUbuntu_24.04/", "--source-networks", "10.0.0.0/16");

        Assert.True(result.ExitCode == 0, result.Describe());
        // Where the sensor's unit runs it from, with the settings in the unit's EnvironmentFile.
        var unit = await File.ReadAllTextAsync(Path.Combine(root, "etc/systemd/system/automirror-sensor.service"));
        var execStart = Regex.Match(unit, @"^ExecStart=(\S+)", RegexOptions.Multiline).Groups[1].Value;
        Assert.True(File.Exists(root + execStart), $"the sensor is not at {execStart}, where its unit starts it");
        var environmentFile = Regex.Match(unit, @"^EnvironmentFile=-?(\S+)", RegexOptions.Multiline).Groups[1].Value;
        var settings = await File.ReadAllLinesAsync(root + environmentFile);
        Assert.Contains("Sensor__Health__Port=8081", settings);
        Assert.Contains("Sensor__Tap__Name=automirror0", settings);
        Assert.Contains("Sensor__Health__DownstreamProcess=zeek", settings);
        Assert.Contains("Sensor__SourceNetworks=10.0.0.0/16", settings);
        // Without --receive: auto, as the stack's default, with the drop-ins of both fast paths.
        Assert.Contains("Sensor__Receive=auto", settings);
        Assert.Equal(DropInsOf["auto"], Directory.GetFiles(Path.Combine(root, "etc/systemd/system/automirror-sensor.service.d")).Select(Path.GetFileName).Order());

        var nodeCfg = await File.ReadAllLinesAsync(Path.Combine(root, "opt/zeek/etc/node.cfg"));
        Assert.Equal("interface=automirror0", Assert.Single(nodeCfg, l => l.StartsWith("interface", StringComparison.Ordinal)));
        // Offloaded checksums are never filled in on mirrored copies: the sensor's Zeek additions say so.
        Assert.Contains("redef ignore_checksums = T;", await File.ReadAllTextAsync(Path.Combine(root, "opt/zeek/share/zeek/site/local.zeek")), StringComparison.Ordinal);

        var source = await File.ReadAllTextAsync(Path.Combine(root, "etc/apt/sources.list.d/zeek.list"));
        Assert.Equal("deb [signed-by=/usr/share/keyrings/zeek.gpg] https://packages.example/zeek/xUbuntu_24.04/ /", source.Trim());
        // The repository's key is fetched and dearmored before apt trusts it; the sensor starts before Zeek.
        var commands = result.StandardOutput.Split('\n').Where(l => l.StartsWith("would run:", StringComparison.Ordinal)).ToList();
        Assert.Contains(commands, c => c.Contains("https://packages.example/zeek/xUbuntu_24.04/Release.key", StringComparison.Ordinal));
        var install = commands.FindIndex(c => Regex.IsMatch(c, @"apt-get .*\binstall\b.* zeek$"));
        var sensor = commands.FindIndex(c => c.Contains("enable --now automirror-sensor.service", StringComparison.Ordinal));
        var zeek = commands.FindIndex(c => c.Contains("zeekctl deploy", StringComparison.Ordinal));
        Assert.True(install >= 0 && sensor > install && zeek > sensor, string.Join('\n', commands));
    }

    [Fact]
    public async Task Installer_RunTwice_AddsTheZeekSiteSettingsOnce()
    {
        var package = Package();
        var root = Path.Combine(_scratch, "root");
        string[] arguments = ["--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/"];

        Assert.Equal(0, (await RunInstallerAsync(package, root, arguments)).ExitCode);
        Assert.Equal(0, (await RunInstallerAsync(package, root, arguments)).ExitCode);

        var localZeek = await File.ReadAllTextAsync(Path.Combine(root, "opt/zeek/share/zeek/site/local.zeek"));
        Assert.Single(Regex.Matches(localZeek, "ignore_checksums"));
    }

    [Theory]
    [InlineData("--health-port", "0", "--health-port")]
    [InlineData("--health-port", "http", "--health-port")]
    [InlineData("--zeek-repository", "ftp://packages.example/zeek/", "--zeek-repository")]
    [InlineData("--zeek-repository", "http://packages.example/zeek", "--zeek-repository")]
    [InlineData("--source-networks", "10.0.0.0/16; rm -rf /", "--source-networks")]
    [InlineData("--receive", "xdp", "--receive")]
    [InlineData("--analyzers", "snort", "--analyzers")]
    [InlineData("--analyzers", "zeek,zeek", "--analyzers")]
    [InlineData("--analyzers", "zeek;suricata", "--analyzers")]
    [InlineData("--analyzers", "", "--analyzers")]
    [InlineData("--mirror-interface", "ens5; reboot", "--mirror-interface")]
    public async Task Installer_RejectsABadSetting_NamingIt(string option, string value, string named)
    {
        var package = Package();
        var settings = new Dictionary<string, string>
        {
            ["--health-port"] = "8080",
            ["--zeek-repository"] = "https://packages.example/zeek/",
            ["--source-networks"] = "10.0.0.0/16",
        };
        settings[option] = value;

        var result = await RunInstallerAsync(package, Path.Combine(_scratch, "root"), [.. settings.SelectMany(p => new[] { p.Key, p.Value })]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(named, result.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_scratch, "root", "opt")), "nothing may be installed after a bad setting");
    }

    [Fact]
    public async Task Installer_ReceiveAfXdp_SetsTheMirrorInterface_AndInstallsTheUnitsAfXdpDropIn_WhichSocketsRemoves()
    {
        var package = Package();
        var root = Path.Combine(_scratch, "root");
        string[] common = ["--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/"];
        var dropIn = Path.Combine(root, "etc/systemd/system/automirror-sensor.service.d/af-xdp.conf");
        var settings = Path.Combine(root, "etc/automirror/sensor.env");

        var result = await RunInstallerAsync(package, root, [.. common, "--receive", "af-xdp", "--mirror-interface", "ens5"]);

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains("Sensor__AfXdp__Interface=ens5", await File.ReadAllLinesAsync(settings));
        // The sensor's own drop-in, unchanged: the capabilities AF_XDP needs are stated (and tested) there.
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(package, "sensor-deploy", "af-xdp.conf")), await File.ReadAllTextAsync(dropIn));

        // Back to sockets (a stack update re-runs the installer on a new instance, or by hand): no AF_XDP left.
        result = await RunInstallerAsync(package, root, [.. common, "--receive", "sockets"]);

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.DoesNotContain(await File.ReadAllLinesAsync(settings), l => l.StartsWith("Sensor__AfXdp__", StringComparison.Ordinal));
        Assert.False(File.Exists(dropIn), "the AF_XDP drop-in must go with --receive sockets");
    }

    [Fact]
    public async Task Installer_ReceivePacketRing_SetsTheMirrorInterface_AndInstallsTheUnitsPacketRingDropIn_WhichSocketsRemoves()
    {
        var package = Package();
        var root = Path.Combine(_scratch, "root");
        string[] common = ["--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/"];
        var dropIn = Path.Combine(root, "etc/systemd/system/automirror-sensor.service.d/packet-ring.conf");
        var settings = Path.Combine(root, "etc/automirror/sensor.env");

        var result = await RunInstallerAsync(package, root, [.. common, "--receive", "packet-ring", "--mirror-interface", "ens5"]);

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains("Sensor__PacketRing__Interface=ens5", await File.ReadAllLinesAsync(settings));
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(package, "sensor-deploy", "packet-ring.conf")), await File.ReadAllTextAsync(dropIn));

        result = await RunInstallerAsync(package, root, [.. common, "--receive", "sockets"]);

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.DoesNotContain(await File.ReadAllLinesAsync(settings), l => l.StartsWith("Sensor__PacketRing__", StringComparison.Ordinal));
        Assert.False(File.Exists(dropIn), "the packet-ring drop-in must go with --receive sockets");
    }

    [Fact]
    public async Task Installer_ReceiveAuto_InstallsBothFastPathsDropIns_AndLeavesTheInterfaceToTheSensor()
    {
        var package = Package();
        var root = Path.Combine(_scratch, "root");
        string[] common = ["--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/"];
        var dropIns = Path.Combine(root, "etc/systemd/system/automirror-sensor.service.d");
        var settings = Path.Combine(root, "etc/automirror/sensor.env");
        // An `ip` that fails: with auto the installer must not need the default route (the sensor finds it at each start).
        var bin = Directory.CreateDirectory(Path.Combine(_scratch, "bin")).FullName;
        await File.WriteAllTextAsync(Path.Combine(bin, "ip"), "#!/bin/sh\nexit 1\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(bin, "ip"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var result = await ExternalTool.RunAsync("bash", [Path.Combine(package, "install.sh"), .. common, "--receive", "auto", "--root", root, "--dry-run"],
            Limit, new Dictionary<string, string> { ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH") });

        Assert.True(result.ExitCode == 0, result.Describe());
        var lines = await File.ReadAllLinesAsync(settings);
        Assert.Contains("Sensor__Receive=auto", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("Sensor__ReceiveInterface=", StringComparison.Ordinal) || l.StartsWith("Sensor__AfXdp__", StringComparison.Ordinal) || l.StartsWith("Sensor__PacketRing__", StringComparison.Ordinal));
        // The sensor's own drop-ins, unchanged: auto may run either fast path, so the service needs the rights of both.
        foreach (var dropIn in DropInsOf["auto"])
        {
            Assert.Equal(await File.ReadAllTextAsync(Path.Combine(package, "sensor-deploy", dropIn)), await File.ReadAllTextAsync(Path.Combine(dropIns, dropIn)));
        }

        // A given mirror interface is passed on as auto's.
        result = await RunInstallerAsync(package, root, [.. common, "--receive", "auto", "--mirror-interface", "ens6"]);
        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains("Sensor__ReceiveInterface=ens6", await File.ReadAllLinesAsync(settings));

        // Sockets only: the sensor is told so (its own default is auto) and no fast path's rights remain.
        result = await RunInstallerAsync(package, root, [.. common, "--receive", "sockets"]);
        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains("Sensor__Receive=sockets", await File.ReadAllLinesAsync(settings));
        Assert.Empty(Directory.GetFiles(dropIns));
    }

    [Fact]
    public void AutoDropIns_Merged_GrantTheRightsAndAddressFamiliesOfBothFastPaths()
    {
        // systemd adds the lists of several drop-ins to the unit's: auto's service holds what either path needs.
        string[] files = [Path.Combine(SensorDeploy, "automirror-sensor.service"), .. DropInsOf["auto"].Select(d => Path.Combine(SensorDeploy, d))];
        var ambient = files.SelectMany(f => UnitSetting(f, "AmbientCapabilities")).Distinct().Order();
        var families = files.SelectMany(f => UnitSetting(f, "RestrictAddressFamilies")).Distinct().ToList();

        Assert.Equal(["CAP_BPF", "CAP_IPC_LOCK", "CAP_NET_ADMIN", "CAP_NET_RAW"], ambient);
        Assert.Contains("AF_XDP", families);
        Assert.Contains("AF_PACKET", families);
    }

    [Fact]
    public async Task Installer_SwitchingReceiveModes_LeavesOnlyTheCurrentModesSettingAndDropIn()
    {
        var package = Package();
        var root = Path.Combine(_scratch, "root");
        var dropIns = Path.Combine(root, "etc/systemd/system/automirror-sensor.service.d");
        var settings = Path.Combine(root, "etc/automirror/sensor.env");

        // Both ways between the two, through auto, then off: the sensor refuses contradicting settings, and another
        // mode's drop-in would grant rights nothing uses.
        (string Mode, string? Setting)[] steps =
        [
            ("af-xdp", "Sensor__AfXdp__Interface=ens5"),
            ("packet-ring", "Sensor__PacketRing__Interface=ens5"),
            ("auto", "Sensor__ReceiveInterface=ens5"),
            ("af-xdp", "Sensor__AfXdp__Interface=ens5"),
            ("sockets", null),
        ];
        foreach (var (mode, setting) in steps)
        {
            var result = await RunInstallerAsync(package, root,
                "--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/", "--receive", mode, "--mirror-interface", "ens5");

            Assert.True(result.ExitCode == 0, mode + ": " + result.Describe());
            var receive = (await File.ReadAllLinesAsync(settings)).Where(l => ReceiveSettings.Any(p => l.StartsWith(p, StringComparison.Ordinal)));
            string[] expected = setting is null ? ["Sensor__Receive=" + mode] : ["Sensor__Receive=" + mode, setting];
            Assert.Equal(expected.Order(StringComparer.Ordinal), receive.Order(StringComparer.Ordinal));
            var installed = Directory.Exists(dropIns) ? Directory.GetFiles(dropIns).Select(Path.GetFileName).Order().ToList() : [];
            Assert.Equal(DropInsOf[mode], installed);
        }
    }

    [Theory]
    [InlineData("af-xdp", "Sensor__AfXdp__Interface")]
    [InlineData("packet-ring", "Sensor__PacketRing__Interface")]
    public async Task Installer_ReceiveWithoutMirrorInterface_UsesTheDefaultRoutesInterface(string mode, string setting)
    {
        // A stand-in `ip` answering only the installer's question, in the shape iproute2 prints it on an instance.
        var bin = Directory.CreateDirectory(Path.Combine(_scratch, "bin")).FullName;
        var ip = Path.Combine(bin, "ip");
        await File.WriteAllTextAsync(ip, """
            #!/bin/sh
            [ "$*" = "-o -4 route show default" ] || exit 1
            echo "default via 10.0.0.1 dev ens6 proto dhcp src 10.0.0.12 metric 100"
            """);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(ip, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var root = Path.Combine(_scratch, "root");

        var result = await ExternalTool.RunAsync("bash",
            [Path.Combine(Package(), "install.sh"), "--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/", "--receive", mode, "--root", root, "--dry-run"],
            Limit, new Dictionary<string, string> { ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH") });

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains(setting + "=ens6", await File.ReadAllLinesAsync(Path.Combine(root, "etc/automirror/sensor.env")));
    }

    [Theory]
    [InlineData("af-xdp", "af-xdp.conf")]
    [InlineData("packet-ring", "packet-ring.conf")]
    [InlineData("auto", "af-xdp.conf")]
    [InlineData("auto", "packet-ring.conf")]
    public async Task Installer_RefusesAPackageWithoutTheReceiveModesDropIn(string mode, string missing)
    {
        var package = Package();
        File.Delete(Path.Combine(package, "sensor-deploy", missing));

        var result = await RunInstallerAsync(package, Path.Combine(_scratch, "root"),
            "--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/", "--receive", mode, "--mirror-interface", "ens5");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"drop-in {missing} is missing", result.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_scratch, "root", "opt")), "nothing may be installed from an incomplete package");
    }

    [Fact]
    public void PacketRingDropIn_AddsExactlyTheRingsCapabilities_AndAllowsAfPacket()
    {
        var dropIn = Path.Combine(SensorDeploy, "packet-ring.conf");
        string[] rights = ["CAP_BPF", "CAP_NET_ADMIN", "CAP_NET_RAW"];

        // CAP_NET_RAW the AF_PACKET ring, CAP_BPF + CAP_NET_ADMIN the tcx program and its link; no CAP_IPC_LOCK.
        Assert.Equal(rights, UnitSetting(dropIn, "AmbientCapabilities").Order());
        Assert.Equal(rights, UnitSetting(dropIn, "CapabilityBoundingSet").Order());
        var families = UnitSetting(dropIn, "RestrictAddressFamilies");
        Assert.Contains("AF_PACKET", families);
        // What the unit itself allows (sockets, netlink for the TAP) stays allowed; AF_XDP is the other mode's.
        Assert.All(UnitSetting(Path.Combine(SensorDeploy, "automirror-sensor.service"), "RestrictAddressFamilies"), f => Assert.Contains(f, families));
        Assert.DoesNotContain("AF_XDP", families);
    }

    [Fact]
    public async Task Template_SensorReceiveValues_AreTheInstallersAndTheSensors_AndDefaultToAuto()
    {
        var template = SamTemplate.Load();
        var parameter = template.Root["Parameters"]!["SensorReceive"]!;
        var allowed = parameter["AllowedValues"]!.AsArray().Select(v => (string)v!).ToList();

        Assert.Equal("auto", (string)parameter["Default"]!);
        Assert.Equal(["af-xdp", "auto", "packet-ring", "sockets"], allowed.Order());
        // Each fast path has the sensor's drop-in of its name, and no drop-in is without its path.
        Assert.Equal(["af-xdp.conf", "packet-ring.conf"], Directory.GetFiles(SensorDeploy, "*.conf").Select(Path.GetFileName).Order());
        // The sensor takes the same words for Sensor:Receive (a value it did not know would stop it with exit 2).
        var sensorModes = Regex.Match(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "src", "AutoMirror.Sensor", "Configuration", "SensorSettings.cs")),
            @"ReceiveModes = \[(?<v>[^\]]*)\]").Groups["v"].Value.Split(',').Select(v => v.Trim().Trim('"'));
        Assert.Equal(allowed.Order(), sensorModes.Order());
        foreach (var value in allowed)
        {
            var result = await RunInstallerAsync(Package(value), Path.Combine(_scratch, "root-" + value),
                "--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/", "--receive", value, "--mirror-interface", "ens5");
            Assert.True(result.ExitCode == 0, value + ": " + result.Describe());
        }
    }

    [Fact]
    public async Task Installer_RefusesAPackageWithoutTheSensorsUnit()
    {
        var package = Package();
        foreach (var unit in Directory.GetFiles(Path.Combine(package, "sensor-deploy"), "*.service"))
        {
            File.Delete(unit);
        }

        var result = await RunInstallerAsync(package, Path.Combine(_scratch, "root"), "--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("systemd unit is missing", result.StandardError, StringComparison.Ordinal);
    }

    /// <summary>What each Analyzers value installs: its packages, the process names the sensor's health checks, and
    /// the commands that start it on the TAP after the sensor created it.</summary>
    [Theory]
    [InlineData("zeek", new[] { "zeek" }, "zeek")]
    [InlineData("suricata", new[] { "suricata" }, "Suricata-Main")]
    [InlineData("zeek,suricata", new[] { "zeek", "suricata" }, "zeek,Suricata-Main")]
    public async Task Installer_Analyzers_InstallsEachOnTheTap_AndTheSensorsHealthNamesEveryOnesProcess(string analyzers, string[] packages, string processes)
    {
        var root = Path.Combine(_scratch, "root");

        var result = await RunInstallerAsync(Package(), root,
            "--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/", "--tap", "mirror7", "--analyzers", analyzers);

        Assert.True(result.ExitCode == 0, result.Describe());
        var settings = await File.ReadAllLinesAsync(Path.Combine(root, "etc/automirror/sensor.env"));
        Assert.Contains("Sensor__Health__DownstreamProcess=" + processes, settings);
        var commands = result.StandardOutput.Split('\n').Where(l => l.StartsWith("would run:", StringComparison.Ordinal)).ToList();
        // One apt transaction with every chosen analyser, waiting for the boot's dpkg lock like every apt-get.
        var install = Assert.Single(commands, c => Regex.IsMatch(c, @"apt-get .*\binstall\b"));
        Assert.EndsWith("install -y -q " + string.Join(' ', packages), install, StringComparison.Ordinal);
        Assert.All(commands.Where(c => c.Contains("apt-get", StringComparison.Ordinal)), c => Assert.Matches(@"apt-get -o DPkg::Lock::Timeout=600 ", c));
        var sensor = commands.FindIndex(c => c.Contains("enable --now automirror-sensor.service", StringComparison.Ordinal));

        var zeekStart = commands.FindIndex(c => c.Contains("zeekctl deploy", StringComparison.Ordinal));
        var zeekSource = Path.Combine(root, "etc/apt/sources.list.d/zeek.list");
        var nodeCfg = Path.Combine(root, "opt/zeek/etc/node.cfg");
        if (packages.Contains("zeek"))
        {
            Assert.True(zeekStart > sensor && sensor > commands.IndexOf(install), string.Join('\n', commands));
            Assert.Equal("interface=mirror7", Assert.Single(await File.ReadAllLinesAsync(nodeCfg), l => l.StartsWith("interface", StringComparison.Ordinal)));
            Assert.True(File.Exists(zeekSource));
        }
        else
        {
            // Without Zeek: not its repository, its key, its configuration or its cron job.
            Assert.Equal(-1, zeekStart);
            Assert.False(File.Exists(zeekSource));
            Assert.False(File.Exists(nodeCfg));
            Assert.False(File.Exists(Path.Combine(root, "etc/cron.d/zeekctl")));
            Assert.DoesNotContain(commands, c => c.Contains("Release.key", StringComparison.Ordinal));
        }

        var suricataDropIn = Path.Combine(root, "etc/systemd/system/suricata.service.d/automirror.conf");
        var suricataEnable = commands.IndexOf("would run: systemctl enable suricata.service");
        var suricataRestart = commands.IndexOf("would run: systemctl restart suricata.service");
        if (packages.Contains("suricata"))
        {
            // Suricata's own unit, its capture pointed at this deployment's TAP; started after the sensor made the TAP.
            var execStarts = UnitSetting(suricataDropIn, "ExecStart");
            Assert.Contains("--af-packet=mirror7", execStarts);
            Assert.DoesNotContain(execStarts, w => w.StartsWith("--af-packet", StringComparison.Ordinal) && w != "--af-packet=mirror7");
            Assert.True(suricataEnable > sensor && suricataRestart > suricataEnable, string.Join('\n', commands));
        }
        else
        {
            Assert.False(File.Exists(suricataDropIn));
            Assert.Equal(-1, suricataEnable);
        }
    }

    [Fact]
    public async Task Installer_SuricataOnly_NeedsNoZeekRepository()
    {
        var result = await RunInstallerAsync(Package(), Path.Combine(_scratch, "root"), "--health-port", "8080", "--analyzers", "suricata");

        Assert.True(result.ExitCode == 0, result.Describe());
        var zeekWithoutRepository = await RunInstallerAsync(Package("package-zeek"), Path.Combine(_scratch, "root-zeek"), "--health-port", "8080", "--analyzers", "zeek,suricata");
        Assert.Equal(2, zeekWithoutRepository.ExitCode);
        Assert.Contains("--zeek-repository", zeekWithoutRepository.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Installer_RefusesAPackageWithoutSuricatasDropIn_WhenSuricataIsChosen()
    {
        var package = Package();
        File.Delete(Path.Combine(package, "sensor-deploy", "suricata", "automirror.conf"));

        var result = await RunInstallerAsync(package, Path.Combine(_scratch, "root"), "--health-port", "8080", "--analyzers", "suricata");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("automirror.conf is missing", result.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_scratch, "root", "opt")), "nothing may be installed from an incomplete package");
    }

    [Fact]
    public void SuricataDropIn_ChangesOnlyWhatThePackagedUnitSniffs()
    {
        // Ubuntu's suricata.service: ExecStart=/usr/bin/suricata -D --af-packet -c /etc/suricata/suricata.yaml --pidfile /run/suricata.pid
        string[] packaged = ["/usr/bin/suricata", "-D", "--af-packet", "-c", "/etc/suricata/suricata.yaml", "--pidfile", "/run/suricata.pid"];
        var lines = File.ReadAllLines(Path.Combine(SensorDeploy, "suricata", "automirror.conf")).Where(l => l.StartsWith("ExecStart=", StringComparison.Ordinal)).ToList();

        // An empty ExecStart= first: without it systemd would add a second command to the packaged one.
        Assert.Equal(2, lines.Count);
        Assert.Equal("ExecStart=", lines[0]);
        var words = lines[1]["ExecStart=".Length..].Split(' ').ToList();
        // The two changes: the TAP named (the installer rewrites it) and no checksum checks (mirrored copies keep the
        // source's offloaded checksums, as Zeek's ignore_checksums says); the rest is the packaged command.
        Assert.Contains("--af-packet=automirror0", words);
        var k = words.IndexOf("-k");
        Assert.Equal("none", words[k + 1]);
        words.RemoveRange(k, 2);
        Assert.Equal(packaged, words.Select(w => w == "--af-packet=automirror0" ? "--af-packet" : w));
    }

    [Fact]
    public async Task Template_AnalyzersValues_AreTheInstallers_AndDefaultToZeek()
    {
        var parameter = SamTemplate.Load().Root["Parameters"]!["Analyzers"]!;
        var allowed = parameter["AllowedValues"]!.AsArray().Select(v => (string)v!).ToList();

        Assert.Equal("zeek", (string)parameter["Default"]!);
        Assert.Equal(["suricata", "zeek", "zeek,suricata"], allowed.Order(StringComparer.Ordinal));
        Assert.Contains("--analyzers ${Analyzers}", UserData(), StringComparison.Ordinal);
        foreach (var value in allowed)
        {
            var result = await RunInstallerAsync(Package("package-" + value), Path.Combine(_scratch, "root-" + value),
                "--health-port", "8080", "--zeek-repository", "https://packages.example/zeek/", "--analyzers", value);
            Assert.True(result.ExitCode == 0, value + ": " + result.Describe());
        }
    }

    private static string UserData() =>
        (string)SamTemplate.Load().Properties("SensorLaunchTemplate")["LaunchTemplateData"]!["UserData"]!["Fn::Base64"]!["Fn::Sub"]![0]!;

    private static Task<ToolResult> RunInstallerAsync(string package, string root, params string[] arguments) =>
        ExternalTool.RunAsync("bash", [Path.Combine(package, "install.sh"), .. arguments, "--root", root, "--dry-run"], Limit);

    /// <summary>The layout the Makefile produces: a stand-in sensor binary, the sensor's real deploy folder
    /// (its unit, env example, Zeek files), the installer.</summary>
    private string Package(string name = "package")
    {
        var package = Path.Combine(_scratch, name);
        Directory.CreateDirectory(Path.Combine(package, "sensor"));
        File.Copy(Installer, Path.Combine(package, "install.sh"));
        var binary = Path.Combine(package, "sensor", "AutoMirror.Sensor");
        File.WriteAllText(binary, "#!/bin/sh\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        CopyDirectory(SensorDeploy, Path.Combine(package, "sensor-deploy"));
        return package;
    }

    /// <summary>The words of every <paramref name="key"/>= line of a unit file; systemd merges repeated lines.</summary>
    private static List<string> UnitSetting(string file, string key) =>
        [.. File.ReadAllLines(file)
            .Where(l => l.StartsWith(key + "=", StringComparison.Ordinal))
            .SelectMany(l => l[(key.Length + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))];

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var directory in Directory.GetDirectories(from))
        {
            CopyDirectory(directory, Path.Combine(to, Path.GetFileName(directory)));
        }
    }

    [GeneratedRegex(@"^\s+(--[a-z-]+)\)", RegexOptions.Multiline)]
    private static partial Regex AcceptedOption();
}
