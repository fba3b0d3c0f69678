"""Building a project's image (Dockerfile, build context, the build) and checking any image against
SageMaker's hosting contract."""
