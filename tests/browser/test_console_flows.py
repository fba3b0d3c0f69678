"""The console's user journeys in chromium, against a real emulator running endpoints as real containers.

The tests of this module build on each other, in order, as a user would: upload model artifacts, create
a model through the form, a configuration and an endpoint, watch it come up, test it, watch its logs and
metrics, update it blue/green, deploy from the model registry, and the error paths on the way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import expect

from dockyard.archive import pack
from dockyard.emulator.context import DEFAULT_ACCOUNT, ResourceKey
from dockyard.emulator.sagemaker.instances import endpoint_log_dir
from dockyard.emulator.sagemaker.store import Store
from tests.aws_fixtures import REGION
from tests.browser.conftest import Dialogs
from tests.emulator_fixtures import EmulatorProcess
from tests.fixture_images import build_fixture_image, remove_fixture_images, write_model

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROLE = "arn:aws:iam::123456789012:role/dockyard-console-test"
UP = 180_000  # ms: an endpoint's containers start on a busy machine
MISSING_IMAGE = "127.0.0.1:5000/dy-console-missing/model:absent"


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    yield build_fixture_image(docker_client, base_image, "dockyard")
    remove_fixture_images(docker_client)


def archive(directory: Path, weights: list[float], load_seconds: float = 0) -> Path:
    source = write_model(directory / "model")
    (source / "weights.json").write_text(json.dumps({"weights": weights, "load_seconds": load_seconds}))
    packed = directory / "model.tar.gz"
    pack(source, packed)
    return packed


@pytest.fixture(scope="module")
def sagemaker(console_emulator: EmulatorProcess) -> Any:
    return console_emulator.client("sagemaker")


def send(page: Any, body: str = "1,2,3,4\n", content_type: str = "text/csv") -> None:
    """Send a test request from the endpoint page's playground."""
    page.fill("#content-type", content_type)
    page.fill("#invoke-body", body)
    page.click("#send")


def wait_for_status(page: Any, status: str) -> None:
    expect(page.locator("#endpoint-status")).to_have_text(status, timeout=UP)


def test_upload_artifacts_and_create_a_model_through_the_form(
    page: Any, image: str, tmp_path: Path, shoot: Callable[[Any, str], Path]
) -> None:
    packed = archive(tmp_path, [1, 2, 3, 4])
    page.goto("/console/artifacts")
    page.set_input_files("#artifact-file", str(packed))
    expect(page.locator("#create-from-upload")).to_be_visible()
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
    shoot(page, "artifacts")
    page.click("#create-from-upload")

    bucket = "dockyard-123456789012-us-east-1"  # the bucket `dockyard deploy` uses
    expect(page.locator("#model_data")).to_have_value(f"s3://{bucket}/console-uploads/model.tar.gz")
    # The engine's local images are offered; the fixture image is one of them.
    assert page.locator(f'#local-images option[value="{image}"]').count() == 1
    page.fill("#name", "console-model")
    page.fill("#image", image)
    page.locator('input[name="env_key"]').first.fill("SAGEMAKER_MODEL_SERVER_WORKERS")
    page.locator('input[name="env_value"]').first.fill("1")
    page.locator('input[name="tag_key"]').first.fill("team")
    page.locator('input[name="tag_value"]').first.fill("ml-platform")
    shoot(page, "create-model")
    page.click("#create-model button[type=submit]")

    expect(page).to_have_url(re.compile(r"/console/models/console-model$"))
    expect(page.locator("#model-image")).to_have_text(image)
    expect(page.locator("#model-data")).to_have_text(f"s3://{bucket}/console-uploads/model.tar.gz")
    expect(page.locator("#model-environment")).to_contain_text("SAGEMAKER_MODEL_SERVER_WORKERS")
    expect(page.locator("#model-tags")).to_contain_text("ml-platform")
    shoot(page, "model")
    # The upload is an object of the local S3, listed in its bucket.
    page.goto("/console/buckets")
    page.click(f"text={bucket}")
    expect(page.locator('[data-key="console-uploads/model.tar.gz"]')).to_be_visible()
    shoot(page, "bucket")


def test_a_bad_name_shows_sagemakers_message_next_to_the_field(page: Any, image: str, sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.create_model(
            ModelName="bad_name!", PrimaryContainer={"Image": image}, ExecutionRoleArn=ROLE
        )
    api_message = raised.value.response["Error"]["Message"]
    assert api_message.startswith("1 validation error detected: ")

    page.goto("/console/models/new")
    page.fill("#name", "bad_name!")
    page.fill("#image", image)
    page.click("#create-model button[type=submit]")

    shown = page.locator('[data-field-error="name"]')
    expect(shown).to_have_text(api_message.removeprefix("1 validation error detected: "))
    expect(page.locator("#name")).to_have_value("bad_name!")  # what was typed stays
    expect(page.locator("#image")).to_have_value(image)


def test_create_a_config_and_an_endpoint_and_watch_it_come_up(
    page: Any, shoot: Callable[[Any, str], Path]
) -> None:
    page.goto("/console/endpoint-configs/new?model=console-model")
    page.fill("#name", "console-config")
    page.select_option('select[name="variant_instance_type"]', "ml.m5.large")
    assert page.locator('select[name="variant_instance_type"] option').count() > 50  # the real ml.* list
    shoot(page, "create-config")
    page.click("#create-config button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/endpoint-configs/console-config$"))
    expect(page.locator("#variants")).to_contain_text("console-model")

    page.click("text=Create endpoint")
    expect(page.locator("#config")).to_have_value("console-config")
    page.fill("#name", "console-ep")
    page.click("#create-endpoint button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/endpoints/console-ep$"))
    # The page follows the status by itself: Creating, then InService, without a reload.
    wait_for_status(page, "InService")
    expect(page.locator("#variants [data-current-count]")).to_have_text("1")
    expect(page.locator("#instances .instance-serving .health")).to_have_text("Healthy")

    page.goto("/console/endpoints")
    expect(page.locator('tr[data-endpoint="console-ep"] [data-status]')).to_have_text("InService")
    shoot(page, "endpoints")


def test_send_a_test_request_and_see_the_prediction_the_log_and_the_metrics(
    page: Any, shoot: Callable[[Any, str], Path]
) -> None:
    page.goto("/console/endpoints/console-ep")
    expect(page.locator("#invoke-body")).to_have_value("1,2,3,4\n")  # pre-filled from the sample
    page.click("#send")
    expect(page.locator("#invocation-body")).to_have_text("30.0")
    expect(page.locator("#invoked-variant")).to_have_text("AllTraffic")
    expect(page.locator("#invocation-status")).to_have_text("200")
    # The container's access-log line of that request appears in the live log.
    expect(page.locator("#log-lines")).to_contain_text("/invocations", timeout=30_000)
    # The metrics charts pick up the invocation at their next poll.
    expect(page.locator("#metrics")).to_have_attribute("data-loaded", re.compile(r"^[1-9]"), timeout=20_000)
    assert page.locator("#metrics .uplot").count() == 3
    shoot(page, "endpoint")


def test_an_error_is_shown_as_sagemaker_returns_it(page: Any) -> None:
    page.goto("/console/endpoints/console-ep")
    page.fill("#content-type", "application/json")
    page.fill("#invoke-body", '{"not": "csv"}')
    page.click("#send")
    expect(page.locator("#invocation-status")).to_contain_text("ModelError")
    expect(page.locator("#invocation-result")).to_contain_text("OriginalStatusCode")
    expect(page.locator("#invocation-error")).to_contain_text(
        re.compile(r"Received (client|server) error \(\d+\) from primary")
    )


def test_update_the_endpoint_and_see_the_new_fleet_take_over(
    page: Any, sagemaker: Any, image: str, tmp_path: Path, shoot: Callable[[Any, str], Path]
) -> None:
    # The new fleet loads for 8 s: long enough for the page's 2 s polls to show it starting, which a
    # fast load (under a second) may be over between two of them.
    packed = archive(tmp_path, [2, 2, 2, 2], load_seconds=8)
    sagemaker.create_model(
        ModelName="console-model-v2",
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": packed.as_uri(),
            "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
        },
        ExecutionRoleArn=ROLE,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="console-config-v2",
        ProductionVariants=[
            {
                "VariantName": "Green",
                "ModelName": "console-model-v2",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    page.goto("/console/endpoints/console-ep")
    page.select_option("#update-config", "console-config-v2")
    page.click("#update-form button[type=submit]")

    # Both fleets: the old variant serving, the new one starting beside it.
    expect(page.locator("#endpoint-status")).to_have_text("Updating")
    expect(page.locator("#pending-deployment")).to_contain_text("console-config-v2")
    expect(page.locator("#variants")).to_contain_text("AllTraffic")
    expect(page.locator("#instances .instance-starting").first).to_be_visible(timeout=60_000)
    shoot(page, "endpoint-update")

    wait_for_status(page, "InService")
    expect(page.locator("#pending-deployment")).to_have_count(0)
    expect(page.locator('#variants tr[data-variant="Green"]')).to_be_visible()
    expect(page.locator('#variants tr[data-variant="AllTraffic"]')).to_have_count(0)
    send(page)
    expect(page.locator("#invocation-body")).to_have_text("20.0")
    expect(page.locator("#invoked-variant")).to_have_text("Green")


def test_change_weights_and_capacities(page: Any, sagemaker: Any) -> None:
    page.goto("/console/endpoints/console-ep")
    # A refusal of SageMaker's shows in the page's error area, worded as the API words it.
    page.fill('input[name="weight"]', "-1")
    page.click("#weights-form button[type=submit]")
    expect(page.locator("#errors")).to_contain_text("ValidationException")
    expect(page.locator("#errors")).to_contain_text(
        "at 'desiredWeightsAndCapacities.1.member.desiredWeight' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0"
    )

    page.fill('input[name="weight"]', "2")
    page.click("#weights-form button[type=submit]")
    wait_for_status(page, "InService")
    expect(page.locator('#variants tr[data-variant="Green"]')).to_contain_text("2.0")
    variant = sagemaker.describe_endpoint(EndpointName="console-ep")["ProductionVariants"][0]
    assert variant["CurrentWeight"] == 2.0


def test_approve_a_package_version_and_deploy_it(
    page: Any, sagemaker: Any, image: str, tmp_path: Path, shoot: Callable[[Any, str], Path]
) -> None:
    packed = archive(tmp_path, [1, 1, 1, 1])
    sagemaker.create_model_package_group(
        ModelPackageGroupName="console-group", ModelPackageGroupDescription="churn models"
    )
    sagemaker.create_model_package(
        ModelPackageGroupName="console-group",
        ModelPackageDescription="first try",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": image,
                    "ModelDataUrl": packed.as_uri(),
                    "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="PendingManualApproval",
    )
    page.goto("/console/model-packages")
    page.click("text=console-group")
    version = page.locator('[data-version="1"]')
    expect(version.locator("[data-approval]")).to_have_text("PendingManualApproval")
    expect(version.locator("[data-deploy]")).to_have_count(0)  # only an approved version deploys
    version.locator("[data-approve]").click()

    version = page.locator('[data-version="1"]')
    expect(version.locator("[data-approval]")).to_have_text("Approved")
    shoot(page, "registry")
    version.locator('input[name="endpoint"]').fill("console-registry-ep")
    version.locator("[data-deploy] button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/console/endpoints/console-registry-ep$"))
    wait_for_status(page, "InService")
    send(page)
    expect(page.locator("#invocation-body")).to_have_text("10.0")
    status = sagemaker.describe_model_package(ModelPackageName="console-group/1")["ModelApprovalStatus"]
    assert status == "Approved"


def test_an_image_that_does_not_exist_fails_with_its_reason(page: Any, sagemaker: Any) -> None:
    page.goto("/console/models/new")
    page.fill("#name", "console-missing")
    page.fill("#image", MISSING_IMAGE)
    page.click("#create-model button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/models/console-missing$"))
    sagemaker.create_endpoint_config(
        EndpointConfigName="console-missing",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "console-missing",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    page.goto("/console/endpoints/new?config=console-missing")
    page.fill("#name", "console-missing")
    page.click("#create-endpoint button[type=submit]")
    wait_for_status(page, "Failed")
    reason = sagemaker.describe_endpoint(EndpointName="console-missing")["FailureReason"]
    expect(page.locator("#failure-reason")).to_contain_text(reason)
    expect(page.locator("#failure-reason")).to_contain_text("dy-console-missing/model:absent")


def test_user_strings_are_shown_as_text(
    page: Any, sagemaker: Any, image: str, dialogs: Dialogs, console_emulator: EmulatorProcess
) -> None:
    script = "<script>alert('tag')</script>"
    attribute = '"><img src=x onerror=alert(1)>'
    arn = sagemaker.create_model(
        ModelName="console-escaping",
        PrimaryContainer={"Image": image, "Environment": {"INJECTED": attribute, "SCRIPT": script}},
        ExecutionRoleArn=ROLE,
    )["ModelArn"]
    # SageMaker's tag pattern refuses markup, so the API cannot store it; the page must not trust the
    # store either: the tags are written into the emulator's database directly.
    with pytest.raises(ClientError, match="must satisfy regular expression pattern"):
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "note", "Value": script}])
    store = Store(console_emulator.state_dir / "emulator.db")
    try:
        store.add_tags(arn, [("note", script), ("other", attribute)])
    finally:
        store.close()
    page.goto("/console/models/console-escaping")
    expect(page.locator("#model-tags")).to_contain_text(script)
    expect(page.locator("#model-tags")).to_contain_text(attribute)
    expect(page.locator("#model-environment")).to_contain_text(attribute)
    expect(page.locator("#model-environment")).to_contain_text(script)

    # Model output: the container echoes the custom attributes, and its error names the content type.
    page.goto("/console/endpoints/console-ep")
    page.fill("#custom-attributes", "<img src=x onerror=alert(2)>")
    send(page)
    expect(page.locator("#invocation-result")).to_contain_text("<img src=x onerror=alert(2)>")
    page.fill("#custom-attributes", "")
    send(page, content_type="text/x-<img src=x onerror=alert(3)>")
    expect(page.locator("#invocation-result")).to_contain_text("<img src=x onerror=alert(3)>")
    # A log line: whatever a container prints lands in its log file, which the page follows.
    logs = endpoint_log_dir(console_emulator.state_dir, ResourceKey(DEFAULT_ACCOUNT, REGION, "console-ep"))
    log_file = max(logs.glob("*/*.log"), key=lambda p: p.stat().st_mtime)
    with log_file.open("a") as log:
        log.write(f"{script} {attribute}\n")
    expect(page.locator("#log-lines")).to_contain_text(f"{script} {attribute}")

    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    assert dialogs.seen == []


def test_delete_a_model_through_the_page(page: Any, sagemaker: Any, image: str) -> None:
    sagemaker.create_model(
        ModelName="console-doomed", PrimaryContainer={"Image": image}, ExecutionRoleArn=ROLE
    )
    page.goto("/console/models/console-doomed")
    page.click("button.danger")  # confirmed by the page fixture's dialog handler
    expect(page).to_have_url(re.compile(r"/console/models$"))
    expect(page.locator("#models")).not_to_contain_text("console-doomed")
    with pytest.raises(ClientError, match="Could not find model"):
        sagemaker.describe_model(ModelName="console-doomed")


def test_the_local_ecr_repositories_are_listed(page: Any, console_emulator: EmulatorProcess) -> None:
    console_emulator.client("ecr").create_repository(repositoryName="team/churn")
    page.goto("/console/repositories")
    page.click("text=team/churn")
    expect(page.locator("main h1")).to_have_text("team/churn")
    expect(page.locator("#images")).to_contain_text("No images in this repository.")


def test_delete_an_endpoint_through_the_page(page: Any, sagemaker: Any) -> None:
    page.goto("/console/endpoints/console-missing")
    page.click("button.danger")  # confirmed by the page fixture's dialog handler
    expect(page).to_have_url(re.compile(r"/console/endpoints$"))
    expect(page.locator('tr[data-endpoint="console-missing"]')).to_have_count(0, timeout=60_000)
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.describe_endpoint(EndpointName="console-missing")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/console/models", "models"),
        ("/console/endpoint-configs", "configs"),
        ("/console/model-packages", "registry-groups"),
        ("/console/images", "images"),
        ("/console/repositories", "repositories"),
    ],
)
def test_screenshots_of_the_list_pages(
    page: Any, path: str, name: str, shoot: Callable[[Any, str], Path]
) -> None:
    page.goto(path)
    expect(page.locator("main h1")).to_be_visible()
    shoot(page, name)
