"""Pushing images to registries: any OCI registry through the engine, and Amazon ECR."""
