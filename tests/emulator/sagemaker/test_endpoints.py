"""The endpoint lifecycle through the provider, with a fleet that reports success or failure on demand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker.deployment import ContainerSpec, DeploymentSpec, VariantDeployment
from dockyard.emulator.sagemaker.instances import variant_digest
from tests.emulator.sagemaker.control_plane import CTX, IMAGE, OTHER_REGION, PREFIX, ControlPlane

ARN = f"{PREFIX}:endpoint/ep"
IN_PROGRESS = f'Cannot update in-progress endpoint "{ARN}".'


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path / "state.db")
    plane.model("m1")
    plane.model("m2", Image=f"{IMAGE}-new", Environment={"MODEL_VERSION": "2"})
    plane.config("cfg1", "m1", ContainerStartupHealthCheckTimeoutInSeconds=90, InitialVariantWeight=2.0)
    plane.config("cfg2", "m2")
    yield plane
    plane.store.close()


def test_create_builds_the_deployment_spec_and_goes_in_service(cp: ControlPlane) -> None:
    created = cp.call(
        "CreateEndpoint", EndpointName="ep", EndpointConfigName="cfg1", Tags=[{"Key": "a", "Value": "b"}]
    )
    assert created == {"EndpointArn": ARN}
    assert cp.fleet.deployed == [
        DeploymentSpec(
            endpoint_name="ep",
            endpoint_arn=ARN,
            config_name="cfg1",
            variants=(
                VariantDeployment(
                    name="v0",
                    model_name="m1",
                    container=ContainerSpec(IMAGE, model_data_url="s3://dy-cp/m1/model.tar.gz"),
                    instance_type="ml.m5.large",
                    instance_count=1,
                    weight=2.0,
                    startup_timeout=90,
                ),
            ),
            account=CTX.account,
            region=CTX.region,
        )
    ]
    creating = cp.call("DescribeEndpoint", EndpointName="ep")
    assert creating["EndpointStatus"] == "Creating"
    assert creating["EndpointConfigName"] == "cfg1"
    assert creating["ProductionVariants"][0]["VariantStatus"] == [
        {"Status": "Creating", "StartTime": creating["CreationTime"]}
    ]
    assert cp.provider.endpoint_status(CTX.key("ep")) == "Creating"
    assert cp.call("ListTags", ResourceArn=ARN)["Tags"] == [{"Key": "a", "Value": "b"}]

    cp.fleet.succeed()
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["LastModifiedTime"] > described["CreationTime"]
    assert described["ProductionVariants"] == [
        {
            "VariantName": "v0",
            "DeployedImages": [
                {
                    "SpecifiedImage": IMAGE,
                    "ResolvedImage": f"{IMAGE}@sha256:{'ab' * 32}",
                    "ResolutionTime": described["LastModifiedTime"],
                }
            ],
            "CurrentWeight": 2.0,
            "DesiredWeight": 2.0,
            "CurrentInstanceCount": 1,
            "DesiredInstanceCount": 1,
            "VariantStatus": [],
        }
    ]
    assert described.get("FailureReason") is None
    assert cp.provider.endpoint_status(CTX.key("ep")) == "InService"
    assert cp.provider.endpoint_status(CTX.key("nope")) is None
    # The control plane ignores the name's case; InvokeEndpoint must match it.
    assert cp.call("DescribeEndpoint", EndpointName="EP")["EndpointName"] == "ep"
    assert cp.provider.endpoint_status(CTX.key("EP")) is None


def test_create_errors(cp: ControlPlane) -> None:
    cp.in_service("ep", "cfg1")
    exists = cp.error("CreateEndpoint", EndpointName="ep", EndpointConfigName="cfg1")
    assert isinstance(exists, ValidationException)
    assert exists.message == f'Cannot create already existing endpoint "{ARN}".'
    no_config = cp.error("CreateEndpoint", EndpointName="ep2", EndpointConfigName="nope")
    assert no_config.message == f'Could not find endpoint configuration "{PREFIX}:endpoint-config/nope".'
    cp.call("DeleteModel", ModelName="m2")  # the config still names it
    no_model = cp.error("CreateEndpoint", EndpointName="ep2", EndpointConfigName="cfg2")
    assert no_model.message == f'Could not find model "{PREFIX}:model/m2".'
    assert [e["EndpointName"] for e in cp.call("ListEndpoints")["Endpoints"]] == ["ep"]
    assert len(cp.fleet.deployed) == 1


def test_create_that_fails_can_only_be_deleted(cp: ControlPlane) -> None:
    cp.call("CreateEndpoint", EndpointName="ep", EndpointConfigName="cfg1")
    reason = "The primary container for production variant v0 did not pass the ping health check."
    cp.fleet.fail(reason)
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    assert (described["EndpointStatus"], described["FailureReason"]) == ("Failed", reason)
    assert "ProductionVariants" not in described
    for operation, params in (
        ("UpdateEndpoint", {"EndpointConfigName": "cfg2"}),
        ("UpdateEndpointWeightsAndCapacities", {"DesiredWeightsAndCapacities": [{"VariantName": "v0"}]}),
    ):
        refused = cp.error(operation, EndpointName="ep", **params)
        assert isinstance(refused, ValidationException)
        assert refused.message == f'Cannot update failed endpoint "{ARN}".'
    cp.call("DeleteEndpoint", EndpointName="ep")
    assert cp.status("ep") == "Deleting"


def test_in_progress_endpoints_refuse_changes(cp: ControlPlane) -> None:
    cp.call("CreateEndpoint", EndpointName="ep", EndpointConfigName="cfg1")
    for operation, params in (
        ("UpdateEndpoint", {"EndpointConfigName": "cfg2"}),
        ("UpdateEndpointWeightsAndCapacities", {"DesiredWeightsAndCapacities": [{"VariantName": "v0"}]}),
        ("DeleteEndpoint", {}),
    ):
        assert cp.error(operation, EndpointName="ep", **params).message == IN_PROGRESS
    cp.fleet.succeed()
    cp.call("UpdateEndpoint", EndpointName="ep", EndpointConfigName="cfg2")
    assert cp.error("DeleteEndpoint", EndpointName="ep").message == IN_PROGRESS
    assert cp.fleet.removed == []


def test_update_is_pending_until_the_new_fleet_serves(cp: ControlPlane) -> None:
    old = cp.in_service("ep", "cfg1")
    assert cp.call("UpdateEndpoint", EndpointName="ep", EndpointConfigName="cfg2") == {"EndpointArn": ARN}
    new = cp.fleet.deployed[-1]
    assert new.config_name == "cfg2"
    assert new.variants[0].container == ContainerSpec(
        f"{IMAGE}-new", model_data_url="s3://dy-cp/m2/model.tar.gz", environment={"MODEL_VERSION": "2"}
    )
    updating = cp.call("DescribeEndpoint", EndpointName="ep")
    assert updating["EndpointStatus"] == "Updating"
    assert updating["EndpointConfigName"] == "cfg1"  # still serving the old config
    assert updating["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    pending = updating["PendingDeploymentSummary"]
    assert pending["EndpointConfigName"] == "cfg2"
    assert pending["ProductionVariants"] == [
        {
            "VariantName": "v0",
            "DeployedImages": [{"SpecifiedImage": f"{IMAGE}-new"}],
            "DesiredWeight": 1.0,
            "DesiredInstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "VariantStatus": [{"Status": "Creating", "StartTime": pending["StartTime"]}],
        }
    ]
    cp.fleet.succeed(old)  # a late report about the old deployment changes nothing
    assert cp.status("ep") == "Updating"

    cp.fleet.succeed(new)
    done = cp.call("DescribeEndpoint", EndpointName="ep")
    assert (done["EndpointStatus"], done["EndpointConfigName"]) == ("InService", "cfg2")
    assert "PendingDeploymentSummary" not in done
    assert done["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == f"{IMAGE}-new"


def test_failed_update_keeps_the_old_deployment(cp: ControlPlane) -> None:
    old = cp.in_service("ep", "cfg1")
    cp.call("UpdateEndpoint", EndpointName="ep", EndpointConfigName="cfg2")
    reason = "The primary container for production variant v0 did not pass the ping health check."
    cp.fleet.fail(reason)
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "cfg1"
    assert described["FailureReason"] == reason
    assert described["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    # The next deployment starts from what serves: a weights change is made to the old spec.
    cp.call(
        "UpdateEndpointWeightsAndCapacities",
        EndpointName="ep",
        DesiredWeightsAndCapacities=[{"VariantName": "v0", "DesiredInstanceCount": 2}],
    )
    assert cp.fleet.deployed[-1].config_name == "cfg1"
    assert cp.fleet.deployed[-1].variants[0].container == old.variants[0].container
    cp.fleet.succeed()
    assert cp.call("DescribeEndpoint", EndpointName="ep").get("FailureReason") is None


def test_weights_and_capacities(cp: ControlPlane) -> None:
    cp.model("m3")
    cp.config("two", "m1", "m3")
    serving = cp.in_service("ep", "two")
    cp.call(
        "UpdateEndpointWeightsAndCapacities",
        EndpointName="ep",
        DesiredWeightsAndCapacities=[{"VariantName": "v1", "DesiredWeight": 3.0, "DesiredInstanceCount": 2}],
    )
    changed = cp.fleet.deployed[-1]
    assert changed.variants[0] == serving.variants[0]
    assert (changed.variants[1].weight, changed.variants[1].instance_count) == (3.0, 2)
    # Only weight and count changed: the fleet keeps the variant's containers (same digest).
    assert variant_digest("ep", changed.variants[1]) == variant_digest("ep", serving.variants[1])
    updating = cp.call("DescribeEndpoint", EndpointName="ep")
    assert updating["EndpointStatus"] == "Updating"
    assert "PendingDeploymentSummary" not in updating
    v1 = updating["ProductionVariants"][1]
    assert (
        v1["CurrentWeight"],
        v1["DesiredWeight"],
        v1["CurrentInstanceCount"],
        v1["DesiredInstanceCount"],
    ) == (
        1.0,
        3.0,
        1,
        2,
    )
    cp.fleet.succeed()
    v1 = cp.call("DescribeEndpoint", EndpointName="ep")["ProductionVariants"][1]
    assert (v1["CurrentWeight"], v1["CurrentInstanceCount"]) == (3.0, 2)

    unknown = cp.error(
        "UpdateEndpointWeightsAndCapacities",
        EndpointName="ep",
        DesiredWeightsAndCapacities=[{"VariantName": "nope", "DesiredWeight": 1.0}],
    )
    assert isinstance(unknown, ValidationException)
    assert (
        unknown.message == f'The variant "nope" does not exist in endpoint "{ARN}"; its variants are: v0, v1.'
    )
    assert cp.status("ep") == "InService"


def test_update_can_retain_variant_properties(cp: ControlPlane) -> None:
    cp.in_service("ep", "cfg1")
    cp.call(
        "UpdateEndpointWeightsAndCapacities",
        EndpointName="ep",
        DesiredWeightsAndCapacities=[{"VariantName": "v0", "DesiredInstanceCount": 3, "DesiredWeight": 5.0}],
    )
    cp.fleet.succeed()
    cp.call(
        "UpdateEndpoint",
        EndpointName="ep",
        EndpointConfigName="cfg2",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
    )
    variant = cp.fleet.deployed[-1].variants[0]
    assert (variant.model_name, variant.instance_count, variant.weight) == ("m2", 3, 1.0)


def test_delete_until_the_fleet_reports_removal(cp: ControlPlane) -> None:
    cp.in_service("ep", "cfg1")
    assert cp.call("DeleteEndpoint", EndpointName="ep") == {}
    assert cp.fleet.removed == [CTX.key("ep")]
    assert cp.status("ep") == "Deleting"
    assert cp.error("DeleteEndpoint", EndpointName="ep").message == IN_PROGRESS
    cp.fleet.finish_removal("ep")
    for operation in ("DescribeEndpoint", "DeleteEndpoint"):
        gone = cp.error(operation, EndpointName="ep")
        # boto3's endpoint_deleted waiter ends on exactly this: a ValidationException.
        assert isinstance(gone, ValidationException)
        assert gone.message == f'Could not find endpoint "{ARN}".'
    missing = cp.error("UpdateEndpoint", EndpointName="ep", EndpointConfigName="cfg1")
    assert missing.message == f'Could not find endpoint "{ARN}".'
    assert cp.error("ListTags", ResourceArn=ARN).message == f"Resource {ARN} does not exist."
    # The name is free again; a late success report about the old endpoint is ignored.
    cp.call("CreateEndpoint", EndpointName="ep", EndpointConfigName="cfg2")
    cp.fleet.succeed(cp.fleet.deployed[0])
    cp.fleet.fail("late", cp.fleet.deployed[0])
    assert cp.status("ep") == "Creating"


def test_endpoint_waiters_see_what_they_wait_for(cp: ControlPlane) -> None:
    """boto3's endpoint_in_service waiter reads EndpointStatus; endpoint_deleted the error code."""
    import botocore.session

    waiters = botocore.session.get_session().get_waiter_model("sagemaker")
    in_service = waiters.get_waiter("EndpointInService")
    assert {(a.expected, a.state) for a in in_service.acceptors if a.matcher == "path"} >= {
        ("InService", "success"),
        ("Failed", "failure"),
    }
    deleted = waiters.get_waiter("EndpointDeleted")
    assert ("ValidationException", "success") in {(a.expected, a.state) for a in deleted.acceptors}
    cp.in_service("ep", "cfg1")
    assert cp.status("ep") == "InService"


def test_one_endpoint_name_in_two_regions_and_two_accounts(cp: ControlPlane) -> None:
    other_account = Caller("444455556666", CTX.region, "req-3")
    contexts = (CTX, OTHER_REGION, other_account)
    for ctx in contexts:
        if ctx is CTX:  # the fixture made its model and config
            cp.call("CreateEndpoint", ctx=ctx, EndpointName="ep", EndpointConfigName="cfg1")
            continue
        cp.call("CreateModel", ctx=ctx, ModelName="m1", PrimaryContainer={"Image": IMAGE})
        variants = [
            {"VariantName": "v0", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ]
        cp.call("CreateEndpointConfig", ctx=ctx, EndpointConfigName="cfg1", ProductionVariants=variants)
        cp.call("CreateEndpoint", ctx=ctx, EndpointName="ep", EndpointConfigName="cfg1")
    assert [spec.endpoint for spec in cp.fleet.deployed] == [ctx.key("ep") for ctx in contexts]
    for spec in list(cp.fleet.deployed):
        cp.fleet.succeed(spec)

    # Two of them deleting; the fleet reports one removal: only that endpoint goes.
    for ctx in (OTHER_REGION, other_account):
        cp.call("DeleteEndpoint", ctx=ctx, EndpointName="ep")
    assert cp.fleet.removed == [OTHER_REGION.key("ep"), other_account.key("ep")]
    cp.fleet.finish_removal("ep", OTHER_REGION)
    gone = cp.error("DescribeEndpoint", ctx=OTHER_REGION, EndpointName="ep")
    assert gone.message == f'Could not find endpoint "{OTHER_REGION.arn("endpoint", "ep")}".'
    assert cp.call("DescribeEndpoint", ctx=other_account, EndpointName="ep")["EndpointStatus"] == "Deleting"
    assert cp.status("ep") == "InService"
    assert cp.provider.endpoint_status(CTX.key("ep")) == "InService"
    assert cp.provider.endpoint_status(OTHER_REGION.key("ep")) is None
