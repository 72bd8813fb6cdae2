# Sourced by the study scripts: the finetune flags of each row of the results tables.
method_flags() {
  case $1 in
    point-peft-fixed) echo --method point-peft --mode fixed ;;
    point-peft-faithful) echo --method point-peft --mode faithful ;;
    full | linear | bitfit | idpt | dapt) echo --method "$1" ;;
    pointgst | pointlora) echo --method "$1" --mode fixed ;;
    *) echo "unknown row $1 (rows: full linear bitfit point-peft-fixed point-peft-faithful idpt dapt pointgst pointlora)" >&2; return 1 ;;
  esac
}
