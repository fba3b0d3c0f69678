from dockyard.cli.main import app

app(prog_name="dockyard")
