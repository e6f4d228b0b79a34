from causal.cli import main

main()
